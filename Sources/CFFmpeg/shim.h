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

#endif
