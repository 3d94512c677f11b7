// Fast grey image decoding for the data loader: JPEG (libjpeg-turbo, with DCT-domain downscaling)
// and 8-bit grey PNG (libpng), then an antialiased bicubic resample (PIL's convolution scheme,
// a = -0.5) straight to the requested geometry, on libuv's thread pool (short jobs: 1-3 ms each).
//
//   decodeImageGrey(source, size, mode, name?) -> Promise<{ width, height, data: Uint8Array } | null>
//     source: a file path, or the encoded bytes (Uint8Array/Buffer, copied; `name` then names it in errors)
//     (JPEG: grey or YCbCr; PNG: 8-bit grey with or without alpha)
//     mode: 'crop' (shorter side to size, centre crop), 'pad' (longer side to size, centred on black),
//           'shorter' (shorter side to size, aspect kept), 'none' (as stored).
//     null: a format this decoder leaves to sharp (16-bit or colour PNG, CMYK JPEG, TIFF, DICOM, ...).
//   Rejects XT_IO (missing/unreadable file) or XT_INVALID (corrupt data), naming the file.
//
// Built only when CMake finds libjpeg and libpng (XT_WITH_IMAGE_CODECS); otherwise the module adds
// nothing and lib/image decodes everything with sharp.
#include <napi.h>

#include "core/errors.h"
#include "core/registry.h"

#ifdef XT_WITH_IMAGE_CODECS
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <png.h>

namespace xt {
namespace {

enum class Mode { Crop, Pad, Shorter, None };

struct Grey {
  int w = 0;
  int h = 0;
  std::vector<uint8_t> px;
};

std::string ErrnoName(int e) {
  switch (e) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EISDIR: return "EISDIR";
    case EIO: return "EIO";
    case EMFILE: return "EMFILE";
    default: return "errno " + std::to_string(e);
  }
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    int e = errno;
    throw XtError(kIo, path + ": " + (e == ENOENT ? "missing image file" : "cannot read image") + " (" + ErrnoName(e) + ")");
  }
  std::vector<uint8_t> buf;
  uint8_t chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) buf.insert(buf.end(), chunk, chunk + n);
  bool err = std::ferror(f);
  int e = errno;
  std::fclose(f);
  if (err) throw XtError(kIo, path + ": cannot read image (" + ErrnoName(e) + ")");
  if (buf.empty()) throw XtError(kInvalid, path + ": cannot decode image: empty file");
  return buf;
}

// ---------------------------------------------------------------------------------------------
// JPEG

struct JpegErr {
  jpeg_error_mgr pub;
  jmp_buf jb;
  char msg[JMSG_LENGTH_MAX];
  int warnings;
};

void JpegErrorExit(j_common_ptr c) {
  auto* e = reinterpret_cast<JpegErr*>(c->err);
  (*c->err->format_message)(c, e->msg);
  longjmp(e->jb, 1);
}

void JpegEmit(j_common_ptr c, int level) {
  auto* e = reinterpret_cast<JpegErr*>(c->err);
  if (level < 0) {  // a warning: corrupt or truncated data
    if (e->warnings++ == 0) (*c->err->format_message)(c, e->msg);
  }
}

// Only POD state lives across setjmp; the pixels are malloc'd and owned by the caller's struct.
struct JpegOut {
  unsigned char* px = nullptr;
  int w = 0, h = 0, origW = 0, origH = 0;
  bool unsupported = false;
};

// Returns an error message ("" when fine). `denomFor` picks the DCT scale from the original size.
std::string DecodeJpeg(const uint8_t* data, size_t size, int target, Mode mode, JpegOut* out) {
  jpeg_decompress_struct c;
  JpegErr err;
  std::memset(&err, 0, sizeof err);
  c.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = JpegErrorExit;
  err.pub.emit_message = JpegEmit;
  if (setjmp(err.jb)) {
    jpeg_destroy_decompress(&c);
    std::free(out->px);
    out->px = nullptr;
    return std::string(err.msg);
  }
  jpeg_create_decompress(&c);
  jpeg_mem_src(&c, const_cast<unsigned char*>(data), static_cast<unsigned long>(size));
  jpeg_read_header(&c, TRUE);
  if (c.jpeg_color_space != JCS_GRAYSCALE && c.jpeg_color_space != JCS_YCbCr) {
    out->unsupported = true;
    jpeg_destroy_decompress(&c);
    return "";
  }
  out->origW = static_cast<int>(c.image_width);
  out->origH = static_cast<int>(c.image_height);
  c.out_color_space = JCS_GRAYSCALE;
  c.dct_method = JDCT_ISLOW;
  // largest 1/denom that keeps the side the geometry depends on at least `target` pixels
  if (mode != Mode::None && target > 0) {
    int side = mode == Mode::Pad ? std::max(out->origW, out->origH) : std::min(out->origW, out->origH);
    int denom = 1;
    while (denom < 8 && (side + 2 * denom - 1) / (2 * denom) >= target) denom *= 2;
    c.scale_num = 1;
    c.scale_denom = denom;
  }
  jpeg_start_decompress(&c);
  out->w = static_cast<int>(c.output_width);
  out->h = static_cast<int>(c.output_height);
  out->px = static_cast<unsigned char*>(std::malloc(static_cast<size_t>(out->w) * out->h));
  if (!out->px) {
    jpeg_destroy_decompress(&c);
    return "out of memory";
  }
  while (c.output_scanline < c.output_height) {
    JSAMPROW row = out->px + static_cast<size_t>(c.output_scanline) * out->w;
    if (jpeg_read_scanlines(&c, &row, 1) != 1) break;
  }
  jpeg_finish_decompress(&c);
  jpeg_destroy_decompress(&c);
  if (err.warnings) {
    std::free(out->px);
    out->px = nullptr;
    return std::string("corrupt JPEG data: ") + err.msg;
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// PNG (8-bit grey, alpha dropped; anything else is left to sharp)

struct PngSrc {
  const uint8_t* data;
  size_t size;
  size_t pos;
};

void PngRead(png_structp png, png_bytep dst, png_size_t n) {
  auto* s = static_cast<PngSrc*>(png_get_io_ptr(png));
  if (s->pos + n > s->size) png_error(png, "premature end of PNG data");
  std::memcpy(dst, s->data + s->pos, n);
  s->pos += n;
}

struct PngErr {
  char msg[256];
};

void PngError(png_structp png, png_const_charp m) {
  auto* e = static_cast<PngErr*>(png_get_error_ptr(png));
  std::snprintf(e->msg, sizeof e->msg, "%s", m);
  png_longjmp(png, 1);
}

void PngWarning(png_structp, png_const_charp) {}

struct PngOut {
  unsigned char* px = nullptr;
  unsigned char** rows = nullptr;
  int w = 0, h = 0;
};

std::string DecodePng(const uint8_t* data, size_t size, PngOut* out) {
  PngErr err;
  std::memset(&err, 0, sizeof err);
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, PngError, PngWarning);
  if (!png) return "out of memory";
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return "out of memory";
  }
  PngSrc src{data, size, 0};
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::free(out->rows);
    std::free(out->px);
    out->rows = nullptr;
    out->px = nullptr;
    return std::string(err.msg);
  }
  png_set_read_fn(png, &src, PngRead);
  png_read_info(png, info);
  out->w = static_cast<int>(png_get_image_width(png, info));
  out->h = static_cast<int>(png_get_image_height(png, info));
  if (png_get_color_type(png, info) == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out->px = static_cast<unsigned char*>(std::malloc(static_cast<size_t>(out->w) * out->h));
  out->rows = static_cast<unsigned char**>(std::malloc(sizeof(unsigned char*) * out->h));
  if (!out->px || !out->rows) png_error(png, "out of memory");
  for (int y = 0; y < out->h; ++y) out->rows[y] = out->px + static_cast<size_t>(y) * out->w;
  png_read_image(png, out->rows);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  std::free(out->rows);
  out->rows = nullptr;
  return "";
}

// ---------------------------------------------------------------------------------------------
// Antialiased bicubic resampling (separable; weights per output pixel as PIL computes them)

double Cubic(double x) {
  const double a = -0.5;
  x = std::fabs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

struct Taps {
  std::vector<int> start, count;
  std::vector<float> w;
  int k = 0;
};

// `n` outputs; output i covers resized coordinate i + offset; `scale` = input pixels per resized pixel.
Taps MakeTaps(int inSize, int n, double offset, double scale) {
  Taps t;
  double fs = std::max(scale, 1.0);
  double support = 2.0 * fs;
  t.k = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.start.resize(n);
  t.count.resize(n);
  t.w.assign(static_cast<size_t>(n) * t.k, 0.f);
  for (int i = 0; i < n; ++i) {
    double center = (i + offset + 0.5) * scale;
    int lo = std::max(0, static_cast<int>(std::floor(center - support + 0.5)));
    int hi = std::min(inSize, static_cast<int>(std::floor(center + support + 0.5)));
    if (hi <= lo) {  // outside the image (cannot happen for valid geometry): nearest edge
      lo = std::min(std::max(0, static_cast<int>(center)), inSize - 1);
      hi = lo + 1;
    }
    int cnt = std::min(hi - lo, t.k);
    double sum = 0;
    float* w = &t.w[static_cast<size_t>(i) * t.k];
    for (int j = 0; j < cnt; ++j) {
      double v = Cubic((lo + j + 0.5 - center) / fs);
      w[j] = static_cast<float>(v);
      sum += v;
    }
    if (sum != 0)
      for (int j = 0; j < cnt; ++j) w[j] = static_cast<float>(w[j] / sum);
    t.start[i] = lo;
    t.count[i] = cnt;
  }
  return t;
}

inline uint8_t Clamp8(float v) {
  int r = static_cast<int>(std::lround(v));
  return static_cast<uint8_t>(r < 0 ? 0 : r > 255 ? 255 : r);
}

// Resample src (W x H) to an outW x outH window of the resized (rw x rh) image starting at (ox, oy).
void Resample(const uint8_t* src, int W, int H, int rw, int rh, int ox, int oy, int outW, int outH, uint8_t* dst,
              int dstStride) {
  Taps tx = MakeTaps(W, outW, ox, static_cast<double>(W) / rw);
  Taps ty = MakeTaps(H, outH, oy, static_cast<double>(H) / rh);
  int y0 = H, y1 = 0;
  for (int i = 0; i < outH; ++i) {
    y0 = std::min(y0, ty.start[i]);
    y1 = std::max(y1, ty.start[i] + ty.count[i]);
  }
  std::vector<float> tmp(static_cast<size_t>(y1 - y0) * outW);
  for (int y = y0; y < y1; ++y) {
    const uint8_t* row = src + static_cast<size_t>(y) * W;
    float* o = &tmp[static_cast<size_t>(y - y0) * outW];
    for (int x = 0; x < outW; ++x) {
      const float* w = &tx.w[static_cast<size_t>(x) * tx.k];
      const uint8_t* p = row + tx.start[x];
      float s = 0;
      for (int j = 0; j < tx.count[x]; ++j) s += w[j] * p[j];
      o[x] = s;
    }
  }
  std::vector<float> acc(outW);
  for (int y = 0; y < outH; ++y) {
    std::fill(acc.begin(), acc.end(), 0.f);
    const float* w = &ty.w[static_cast<size_t>(y) * ty.k];
    for (int j = 0; j < ty.count[y]; ++j) {
      const float* r = &tmp[static_cast<size_t>(ty.start[y] + j - y0) * outW];
      float wj = w[j];
      for (int x = 0; x < outW; ++x) acc[x] += wj * r[x];
    }
    uint8_t* o = dst + static_cast<size_t>(y) * dstStride;
    for (int x = 0; x < outW; ++x) o[x] = Clamp8(acc[x]);
  }
}

// Geometry on the ORIGINAL size (origW x origH); src may be a DCT-downscaled decode of it.
Grey Fit(const uint8_t* src, int W, int H, int origW, int origH, int size, Mode mode) {
  Grey g;
  if (mode == Mode::None) {
    g.w = W;
    g.h = H;
    g.px.assign(src, src + static_cast<size_t>(W) * H);
    return g;
  }
  auto rnd = [](double v) { return std::max(1, static_cast<int>(std::lround(v))); };
  if (mode == Mode::Pad) {
    double f = static_cast<double>(size) / std::max(origW, origH);
    int rw = std::min(size, rnd(origW * f));
    int rh = std::min(size, rnd(origH * f));
    g.w = g.h = size;
    g.px.assign(static_cast<size_t>(size) * size, 0);
    int left = (size - rw) / 2;
    int top = (size - rh) / 2;
    Resample(src, W, H, rw, rh, 0, 0, rw, rh, g.px.data() + static_cast<size_t>(top) * size + left, size);
    return g;
  }
  double f = static_cast<double>(size) / std::min(origW, origH);
  int rw = std::max(size, rnd(origW * f));
  int rh = std::max(size, rnd(origH * f));
  if (mode == Mode::Shorter) {
    g.w = rw;
    g.h = rh;
    g.px.resize(static_cast<size_t>(rw) * rh);
    Resample(src, W, H, rw, rh, 0, 0, rw, rh, g.px.data(), rw);
    return g;
  }
  g.w = g.h = size;
  g.px.resize(static_cast<size_t>(size) * size);
  // centre crop: an odd margin leaves its extra pixel on the left/top, as sharp's `cover` + centre does (so the
  // two decoders agree: test/native/image-parity.test.ts)
  Resample(src, W, H, rw, rh, (rw - size + 1) / 2, (rh - size + 1) / 2, size, size, g.px.data(), size);
  return g;
}

// Decode + fit; `unsupported` set when the format is left to sharp. `path` names the source in errors.
Grey DecodeBytes(const std::vector<uint8_t>& buf, const std::string& path, int size, Mode mode, bool* unsupported) {
  *unsupported = false;
  if (buf.size() > 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF) {
    JpegOut j;
    std::string e = DecodeJpeg(buf.data(), buf.size(), size, mode, &j);
    if (!e.empty()) throw XtError(kInvalid, path + ": cannot decode image: " + e);
    if (j.unsupported) {
      *unsupported = true;
      return {};
    }
    std::unique_ptr<unsigned char, void (*)(void*)> hold(j.px, std::free);
    return Fit(j.px, j.w, j.h, j.origW, j.origH, size, mode);
  }
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  // 8-bit grey, with or without alpha (alpha dropped, as sharp's removeAlpha does)
  if (buf.size() > 28 && std::memcmp(buf.data(), sig, 8) == 0 && buf[24] == 8 && (buf[25] == 0 || buf[25] == 4)) {
    PngOut p;
    std::string e = DecodePng(buf.data(), buf.size(), &p);
    if (!e.empty()) throw XtError(kInvalid, path + ": cannot decode image: " + e);
    std::unique_ptr<unsigned char, void (*)(void*)> hold(p.px, std::free);
    return Fit(p.px, p.w, p.h, p.w, p.h, size, mode);
  }
  *unsupported = true;
  return {};
}

class DecodeWorker : public Napi::AsyncWorker {
 public:
  // from a file (bytes empty) or from bytes already copied off the JS heap
  DecodeWorker(Napi::Env env, std::string path, std::vector<uint8_t> bytes, int size, Mode mode)
      : Napi::AsyncWorker(env, "xt.decodeImageGrey"), deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)), bytes_(std::move(bytes)), from_file_(bytes_.empty()), size_(size), mode_(mode) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      if (from_file_) bytes_ = ReadFile(path_);
      grey_ = DecodeBytes(bytes_, path_, size_, mode_, &unsupported_);
      std::vector<uint8_t>().swap(bytes_);
    } catch (...) {
      error_ = CurrentError();
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (!error_.code.empty()) {
      deferred_.Reject(MakeError(env, error_).Value());
      return;
    }
    if (unsupported_) {
      deferred_.Resolve(env.Null());
      return;
    }
    auto ab = Napi::ArrayBuffer::New(env, grey_.px.size());
    std::memcpy(ab.Data(), grey_.px.data(), grey_.px.size());
    Napi::Object o = Napi::Object::New(env);
    o.Set("width", grey_.w);
    o.Set("height", grey_.h);
    o.Set("data", Napi::Uint8Array::New(env, grey_.px.size(), ab, 0));
    deferred_.Resolve(o);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  std::vector<uint8_t> bytes_;
  bool from_file_;
  int size_;
  Mode mode_;
  Grey grey_;
  bool unsupported_ = false;
  ErrorInfo error_;
};

Napi::Value DecodeImageGrey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    XT_CHECK(info.Length() >= 3 && (info[0].IsString() || info[0].IsTypedArray()) && info[1].IsNumber() &&
                 info[2].IsString(),
             kInvalid, "decodeImageGrey(source: string | Uint8Array, size: number, mode: 'crop'|'pad'|'shorter'|'none', name?)");
    std::string path;
    std::vector<uint8_t> bytes;
    if (info[0].IsString()) {
      path = info[0].As<Napi::String>().Utf8Value();
    } else {
      Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
      XT_CHECK(ta.TypedArrayType() == napi_uint8_array, kInvalid, "decodeImageGrey: bytes must be a Uint8Array or Buffer");
      path = info.Length() > 3 && info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : std::string("<buffer>");
      XT_CHECK(ta.ByteLength() > 0, kInvalid, path + ": cannot decode image: empty input");
      const uint8_t* p = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
      bytes.assign(p, p + ta.ByteLength());
    }
    std::string m = info[2].As<Napi::String>().Utf8Value();
    Mode mode = m == "crop" ? Mode::Crop : m == "pad" ? Mode::Pad : m == "shorter" ? Mode::Shorter : m == "none" ? Mode::None
                                                                                                         : Mode(-1);
    XT_CHECK(static_cast<int>(mode) >= 0, kInvalid, "decodeImageGrey: mode must be crop, pad, shorter or none, got " + m);
    double s = info[1].As<Napi::Number>().DoubleValue();
    XT_CHECK(mode == Mode::None || (s >= 1 && s <= 65535 && s == std::floor(s)), kInvalid,
             "decodeImageGrey: size must be a positive integer");
    auto* w = new DecodeWorker(env, std::move(path), std::move(bytes), static_cast<int>(s), mode);
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  });
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("decodeImageGrey", Napi::Function::New(env, DecodeImageGrey, "decodeImageGrey"));
}

}  // namespace
}  // namespace xt

XT_REGISTER_MODULE(image, xt::Init);

#endif  // XT_WITH_IMAGE_CODECS
