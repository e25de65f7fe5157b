#!/bin/sh
# Regenerates the committed test videos with ffmpeg (`make fixtures`). Small on purpose: under 3 MB in all.
# Every file is made from FFmpeg's synthetic sources with a single thread and -bitexact; even so libx264 and
# libx265 do not give the same bytes on every run, so a rerun changes the committed H.264/HEVC files: run it to
# add a fixture, and commit only the new file (the tests use the committed bytes).
set -eu
cd "$(dirname "$0")"
ff() { ffmpeg -nostdin -v error -y -threads 1 "$@"; }
VIDEO="testsrc2=duration=4:size=320x240:rate=25"
TONE="sine=frequency=440:duration=4:sample_rate=48000"
X264="-c:v libx264 -preset veryfast -pix_fmt yuv420p -g 25 -x264-params threads=1 -bitexact"
AAC="-c:a aac -b:a 64k"

# Intact files, one per common container/codec.
ff -f lavfi -i "$VIDEO" $X264 -metadata creation_time=2024-03-01T14:00:00Z -metadata title="Camera 3, rear yard" \
   -movflags +faststart mp4_h264.mp4
ff -f lavfi -i "$VIDEO" -f lavfi -i "$TONE" $X264 $AAC -shortest -metadata creation_time=2024-03-01T14:05:00Z mp4_h264_aac.mp4
ff -f lavfi -i "$VIDEO" $X264 -metadata creation_time=2024-03-01T14:10:00Z mov_h264.mov
ff -f lavfi -i "$VIDEO" -f lavfi -i "$TONE" $X264 $AAC -shortest mkv_h264_aac.mkv
ff -f lavfi -i "testsrc2=duration=2:size=320x240:rate=25" -c:v libvpx-vp9 -b:v 200k -deadline realtime -cpu-used 8 webm_vp9.webm
ff -f lavfi -i "$VIDEO" -c:v mjpeg -q:v 24 -pix_fmt yuvj420p avi_mjpeg.avi
ff -f lavfi -i "$VIDEO" -f lavfi -i "$TONE" $X264 $AAC -shortest -f mpegts ts_h264_aac.ts
ff -f lavfi -i "$VIDEO" $X264 -f h264 raw.h264
ff -f lavfi -i "$TONE" $AAC audio_only.m4a
# Raw elementary streams as DVRs export them (.264/.265, no container): HEVC in open groups of pictures (x265's
# default: CRA key frames whose leading pictures refer to the group before), H.264 with four CAVLC slices a picture.
ff -f lavfi -i "$VIDEO" -c:v libx265 -preset veryfast -pix_fmt yuv420p -g 25 \
   -x265-params log-level=error:pools=1:frame-threads=1 -f hevc raw.hevc
ff -f lavfi -i "$VIDEO" -c:v libx264 -preset veryfast -profile:v baseline -pix_fmt yuv420p -g 25 \
   -x264-params threads=1:slices=4 -bitexact -f h264 raw_slices.h264
# Refused by browsers, for working copies: MPEG-4 Part 2 in AVI, MPEG-2 in MPEG-PS, an odd frame size,
# an MKV with an attachment.
ff -f lavfi -i "$VIDEO" -f lavfi -i "$TONE" -c:v mpeg4 -q:v 12 -c:a libmp3lame -b:a 64k -shortest avi_mpeg4.avi
ff -f lavfi -i "$VIDEO" -f lavfi -i "$TONE" -c:v mpeg2video -q:v 12 -c:a mp2 -b:a 64k -shortest -f vob mpegps_mpeg2.mpg
ff -f lavfi -i "testsrc2=duration=2:size=720x406:rate=25,format=yuvj422p,crop=720:405:0:0" -c:v mjpeg -q:v 28 avi_odd_720x405.avi
printf 'Seized from DVR at 14 High Street by PC 1234.\n' > attachment.txt
ff -f lavfi -i "$VIDEO" $X264 -attach attachment.txt -metadata:s:t mimetype=text/plain mkv_attachment.mkv
rm attachment.txt

# Damaged files.
# An MP4 written with its index (moov) at the end, cut in the middle: the index never made it.
ff -f lavfi -i "$VIDEO" $X264 .full.mp4
size=$(stat -c %s .full.mp4); head -c $((size / 2)) .full.mp4 > truncated_no_moov.mp4; rm .full.mp4
# An MP4 with its index first (+faststart), cut short: opens fine and claims its full duration.
ff -f lavfi -i "$VIDEO" $X264 -movflags +faststart .fast.mp4
size=$(stat -c %s .fast.mp4); head -c $((size * 55 / 100)) .fast.mp4 > truncated_faststart.mp4; rm .fast.mp4
# An MPEG-TS with 64 KiB in the middle overwritten by noise.
ff -f lavfi -i "$VIDEO" $X264 -f mpegts .clean.ts
cp .clean.ts corrupted_middle.ts; size=$(stat -c %s .clean.ts)
python3 -c "import random,sys; random.seed(7); sys.stdout.buffer.write(bytes(random.getrandbits(8) for _ in range(65536)))" \
  | dd of=corrupted_middle.ts bs=1 seek=$((size / 2)) conv=notrunc status=none
rm .clean.ts

# CCTV as it really comes (issue 23): an AVI whose index (idx1) was never written, every frame there; a
# low-frame-rate Cinepak AVI that records irregularly (frames 0.2-0.7 s apart at a nominal 15 fps: recording gaps,
# not damage); variable-frame-rate H.264 in MP4.
ff -f lavfi -i "$VIDEO" -c:v mjpeg -q:v 24 -pix_fmt yuvj420p .indexed.avi
python3 - <<'PY'
import struct
data = open('.indexed.avi', 'rb').read()
cut = data.rfind(b'idx1')
body = bytearray(data[:cut])
body[4:8] = struct.pack('<I', len(body) - 8)  # the RIFF size of a file that ends where the frames end
open('avi_no_index.avi', 'wb').write(bytes(body))
PY
rm .indexed.avi
ff -f lavfi -i "testsrc=duration=20:size=320x240:rate=15,select='lt(mod(n*7919\,97)\,14)'" -fps_mode vfr -c:v cinepak avi_lowfps_gaps.avi
ff -f lavfi -i "testsrc2=duration=6:size=320x240:rate=30,select='lt(mod(n*31\,17)\,6)'" -fps_mode vfr $X264 vfr_h264.mkv

# The cuts and damage real exports show (issue 23): an AVI cut at half its bytes (no index, but its header still
# counts every frame); a MOV whose header survived and whose media data did not; a raw H.264 stream with 64 KiB
# of noise in the middle; random bytes with a .h264 name.
size=$(stat -c %s avi_mpeg4.avi); head -c $((size / 2)) avi_mpeg4.avi > truncated_half.avi
ff -f lavfi -i "testsrc=duration=5:size=320x240:rate=15" -f lavfi -i "sine=duration=5:sample_rate=16000" -c:v mjpeg -q:v 20 \
   -c:a pcm_s16le -movflags +faststart .camera.mov
python3 -c "d = open('.camera.mov', 'rb').read(); i = d.find(b'mdat'); open('header_only.mov', 'wb').write(d[:i + 4 + 64])"
rm .camera.mov
cp raw.h264 raw_noise.h264; size=$(stat -c %s raw.h264)
python3 -c "import random,sys; random.seed(11); sys.stdout.buffer.write(bytes(random.getrandbits(8) for _ in range(65536)))" \
  | dd of=raw_noise.h264 bs=1 seek=$((size / 3)) conv=notrunc status=none
python3 -c "import random,sys; random.seed(23); sys.stdout.buffer.write(bytes(random.getrandbits(8) for _ in range(65536)))" > random.h264

# Not media at all.
: > empty.bin
python3 -c "import random,sys; random.seed(42); sys.stdout.buffer.write(bytes(random.getrandbits(8) for _ in range(100000)))" > random.bin

du -ch * | tail -1
