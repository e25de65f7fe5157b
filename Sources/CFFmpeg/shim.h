#ifndef EXHIBIT_CFFMPEG_SHIM_H
#define EXHIBIT_CFFMPEG_SHIM_H

#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libavutil/samplefmt.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <libswresample/swresample.h>
#include <string.h>

/* Macros Swift cannot import, as functions. */
static inline int exhibit_averror(int e) { return AVERROR(e); }
static inline int exhibit_averror_eof(void) { return AVERROR_EOF; }
static inline int exhibit_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int exhibit_averror_exit(void) { return AVERROR_EXIT; }
static inline int exhibit_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int64_t exhibit_av_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline AVRational exhibit_av_time_base_q(void) { return AV_TIME_BASE_Q; }
static inline int exhibit_avseek_size(void) { return AVSEEK_SIZE; }
static inline int exhibit_avseek_force(void) { return AVSEEK_FORCE; }

/* av_log's callback gets a va_list; format it here into a line. */
static inline int exhibit_format_log_line(void *avcl, int level, const char *fmt, va_list vl,
                                          char *line, int line_size) {
    int print_prefix = 1;
    return av_log_format_line2(avcl, level, fmt, vl, line, line_size, &print_prefix);
}

/* FNV-1a over a decoded frame's visible samples (not the padding at the end of each row): two decodes of the same
   picture compare equal exactly when their pixels do. */
static inline uint64_t exhibit_frame_hash(const AVFrame *f) {
    uint64_t h = 1469598103934665603ULL;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)f->format);
    if (!d) return 0;
    for (int p = 0; p < 4 && f->data[p]; p++) {
        int bytes = av_image_get_linesize((enum AVPixelFormat)f->format, f->width, p);
        if (bytes <= 0) break;
        int rows = (p == 1 || p == 2) ? AV_CEIL_RSHIFT(f->height, d->log2_chroma_h) : f->height;
        for (int y = 0; y < rows; y++) {
            const uint8_t *r = f->data[p] + (ptrdiff_t)y * f->linesize[p];
            for (int x = 0; x < bytes; x++) { h ^= r[x]; h *= 1099511628211ULL; }
        }
    }
    return h;
}

/* Working copies: frame-array plumbing that is clumsy from Swift. */

/* Scales `src` into the top-left corner of `dst`, which may be larger (padding to even sizes). */
static inline int exhibit_sws_scale_into(struct SwsContext *c, const AVFrame *src, AVFrame *dst) {
    return sws_scale(c, (const uint8_t * const *)src->data, src->linesize, 0, src->height, dst->data, dst->linesize);
}

/* Paints a yuv420p frame black (limited range), so padding rows and columns stay black. */
static inline void exhibit_fill_black_yuv420p(AVFrame *f) {
    for (int y = 0; y < f->height; y++) memset(f->data[0] + y * f->linesize[0], 16, f->width);
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < (f->height + 1) / 2; y++) memset(f->data[p] + y * f->linesize[p], 128, (f->width + 1) / 2);
}

static inline int exhibit_fifo_write_frame(AVAudioFifo *fifo, const AVFrame *f) {
    return av_audio_fifo_write(fifo, (void **)f->data, f->nb_samples);
}

static inline int exhibit_fifo_read_frame(AVAudioFifo *fifo, AVFrame *f, int samples) {
    return av_audio_fifo_read(fifo, (void **)f->data, samples);
}

static inline int exhibit_frame_is_corrupt(const AVFrame *f) {
    return (f->flags & AV_FRAME_FLAG_CORRUPT) || f->decode_error_flags;
}

static inline int exhibit_codec_flag_global_header(void) { return AV_CODEC_FLAG_GLOBAL_HEADER; }
static inline int exhibit_fmt_global_header(void) { return AVFMT_GLOBALHEADER; }

#endif
