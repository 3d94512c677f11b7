// The native training step: both encoders forward, the fused relaxed contrastive loss, backward,
// gradient clipping and the AdamW step behind one async call (TrainSession.step). Optionally
// data-parallel through binding/dist (global contrastive batch, bucketed gradient all-reduce).
//
// JS: new TrainSessionNative(clipModelNative, options)
//   step(pixels, pixelShape, tokens, tokenShape, groups|null, lr) -> Promise<StepResult>
//   evalLoss(pixels, pixelShape, tokens, tokenShape, groups|null) -> Promise<{loss}>
//     pixels: 8-bit grey Uint8Array [B, H, W] (normalised natively with the model's mean/std, expanded to
//     3 channels on the model's device) or normalised Float32Array [B, 3, H, W] (image/pixels.h)
//   saveOptimizer(path) / loadOptimizer(path) -> Promise<void>
//   rngState() -> Uint8Array, setRngState(Uint8Array)
#include <napi.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <ATen/autocast_mode.h>
#include <cstring>
#include <limits>

#include <cmath>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "clip/clip_binding.h"
#include "core/async.h"
#include "core/errors.h"
#include "core/registry.h"
#include "core/tensor_io.h"
#include "distributed/dist.h"
#include "image/pixels.h"
#include "loss/relaxed_loss.h"
#include "train/fused_adamw.h"
#include "train/grad_cache.h"

namespace xt {
namespace train {
namespace {

constexpr double kMaxLogitScale = 4.605170185988092;  // ln(100)

// Every option is given by the caller, fully resolved: the defaults live in one table on the JS side
// (lib/train/options.ts). The session only validates; a missing option is XT_INVALID naming it.
struct Options {
  double lr;
  double weight_decay;
  double beta1;
  double beta2;
  double eps;
  double positive_clip;
  bool multi_positive;
  double grad_clip;  // 0 = off
  int accum_steps;
  bool lock_image;
  bool lock_text;
  bool skip_nonfinite;
  std::string precision;  // fp32 | bf16 | fp16 (autocast; fp16 with dynamic loss scaling)
  // > 1: steps run without a device->host synchronisation; the loss, gradient norm and non-finite
  // count are read every sync_every steps (or when a step asks). fp16 always syncs (loss scaling).
  int sync_every;
  // Activation memory (issue 16): gradient checkpointing of both towers' blocks (clip/checkpoint.h) and
  // patch dropout p (clip/vision.h), applied to the model during this session's steps only.
  bool grad_checkpointing;
  double patch_dropout;
  // Seeds the CPU generator the steps draw from (patch dropout) when the session starts; a resumed run
  // then restores the saved generator state (setRngState). Data-parallel rank r draws from seed + r.
  double seed;
};

Napi::Value RequiredOption(const Napi::Object& o, const char* key, const char* want) {
  Napi::Value v = o.Has(key) ? o.Get(key) : o.Env().Undefined();
  XT_CHECK(!v.IsUndefined() && !v.IsNull(), kInvalid,
           std::string("TrainSession options: '") + key + "' is required (" + want + ")");
  return v;
}

double NumberOption(const Napi::Object& o, const char* key) {
  Napi::Value v = RequiredOption(o, key, "a number");
  XT_CHECK(v.IsNumber(), kInvalid, std::string("TrainSession options: '") + key + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

int IntOption(const Napi::Object& o, const char* key, int lo, int hi) {
  double d = NumberOption(o, key);
  XT_CHECK(std::isfinite(d) && d == std::floor(d) && d >= lo && d <= hi, kInvalid,
           std::string("train: ") + key + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<int>(d);
}

bool BoolOption(const Napi::Object& o, const char* key) {
  Napi::Value v = RequiredOption(o, key, "true or false");
  XT_CHECK(v.IsBoolean(), kInvalid, std::string("TrainSession options: '") + key + "' must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string StringOption(const Napi::Object& o, const char* key) {
  Napi::Value v = RequiredOption(o, key, "a string");
  XT_CHECK(v.IsString(), kInvalid, std::string("TrainSession options: '") + key + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

// Read and validate every option (on a CUDA model or not: fp16 needs one).
Options ParseOptions(const Napi::Object& o, bool cuda) {
  Options op;
  op.lr = NumberOption(o, "lr");
  op.weight_decay = NumberOption(o, "weightDecay");
  op.beta1 = NumberOption(o, "beta1");
  op.beta2 = NumberOption(o, "beta2");
  op.eps = NumberOption(o, "eps");
  op.positive_clip = NumberOption(o, "positiveClip");
  op.multi_positive = BoolOption(o, "multiPositive");
  op.grad_clip = NumberOption(o, "gradClip");
  op.accum_steps = IntOption(o, "accumSteps", 1, 1 << 20);
  op.lock_image = BoolOption(o, "lockImage");
  op.lock_text = BoolOption(o, "lockText");
  op.skip_nonfinite = BoolOption(o, "skipNonfinite");
  op.precision = StringOption(o, "precision");
  op.sync_every = IntOption(o, "syncEvery", 1, 100000);
  op.grad_checkpointing = BoolOption(o, "gradCheckpointing");
  op.patch_dropout = NumberOption(o, "patchDropout");
  op.seed = NumberOption(o, "seed");
  XT_CHECK(op.seed >= 0 && op.seed <= 9007199254740991.0 && op.seed == std::floor(op.seed), kInvalid,
           "train: seed must be an integer >= 0");
  XT_CHECK(op.lr > 0 && std::isfinite(op.lr), kInvalid, "train: lr must be a positive number");
  XT_CHECK(op.weight_decay >= 0 && std::isfinite(op.weight_decay), kInvalid, "train: weightDecay must be >= 0");
  XT_CHECK(op.beta1 >= 0 && op.beta1 < 1 && op.beta2 >= 0 && op.beta2 < 1, kInvalid, "train: betas must be in [0, 1)");
  XT_CHECK(op.eps > 0 && std::isfinite(op.eps), kInvalid, "train: eps must be a positive number");
  XT_CHECK(op.positive_clip >= -1 && op.positive_clip <= 1, kInvalid, "train: positiveClip must be in [-1, 1]");
  XT_CHECK(op.grad_clip >= 0 && std::isfinite(op.grad_clip), kInvalid, "train: gradClip must be >= 0 (0 = off)");
  XT_CHECK(op.patch_dropout >= 0 && op.patch_dropout < 1, kInvalid,
           "train: patchDropout must be in [0, 1) (the share of patch tokens dropped), got " +
               std::to_string(op.patch_dropout));
  XT_CHECK(op.precision == "fp32" || op.precision == "bf16" || op.precision == "fp16", kInvalid,
           "train: precision must be fp32, bf16 or fp16");
  XT_CHECK(op.precision != "fp16" || cuda, kInvalid,
           "train: fp16 autocast needs a CUDA device (use fp32 or bf16 on the CPU)");
  return op;
}

// Parameters that get no weight decay: biases, norms, embeddings, the logit scale (open_clip's rule
// plus embeddings, which CLIP's positional/class/token embeddings are).
bool NoDecay(const std::string& name, const torch::Tensor& p) {
  if (p.dim() < 2) return true;
  return name.find("embedding") != std::string::npos || name.find("ln_") != std::string::npos ||
         name.find("bias") != std::string::npos || name == "logit_scale";
}

bool IsImageTower(const std::string& name) { return name.rfind("visual.", 0) == 0; }
bool IsTextTower(const std::string& name) { return !IsImageTower(name) && name != "logit_scale"; }

struct StepResult {
  double loss = 0;
  double grad_norm = 0;
  double logit_scale = 0;
  bool skipped = false;
  double loss_scale = 1;
  int64_t batch = 0;
  bool synced = true;     // false: loss/grad_norm are NaN (read at a later step)
  int64_t steps = 1;      // synced: the loss is the mean over this many steps (those since the last read)
  int64_t nonfinite = 0;  // synced, lazy mode with skip_nonfinite: steps whose update was zeroed
};

struct Session {
  clip::StatePtr model;
  Options opt;
  std::vector<torch::Tensor> params;  // trainable, in model order
  std::vector<std::string> names;
  std::vector<torch::Tensor> key_bias;  // the attention in_proj_bias parameters (see ZeroKeyBiasGrads)
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::unique_ptr<dist::GradientReducer> reducer;
  double loss_scale = 65536.0;  // fp16 only
  int good_steps = 0;
  // lazy mode (sync_every > 1): device-side accumulators since the last read
  torch::Tensor loss_acc, bad_acc, norm_last;
  int64_t pending = 0;
  std::mutex mu;
};
using SessionPtr = std::shared_ptr<Session>;

void Setup(Session& s) {
  clip::WithModel(s.model, [&](clip::ClipModel& m) {
    std::vector<torch::Tensor> decay, no_decay;
    for (auto& kv : m->named_parameters()) {
      const std::string& name = kv.key();
      torch::Tensor p = kv.value();
      bool locked = (s.opt.lock_image && IsImageTower(name)) || (s.opt.lock_text && IsTextTower(name));
      p.set_requires_grad(!locked);
      if (locked) continue;
      s.params.push_back(p);
      s.names.push_back(name);
      static const std::string kInProjBias = "attn.in_proj_bias";
      if (name.size() >= kInProjBias.size() && name.compare(name.size() - kInProjBias.size(), kInProjBias.size(), kInProjBias) == 0)
        s.key_bias.push_back(p);
      (NoDecay(name, p) ? no_decay : decay).push_back(p);
    }
    XT_CHECK(!s.params.empty(), kInvalid, "train: every parameter is locked (both --lock-image and --lock-text)");
    auto base = torch::optim::AdamWOptions(s.opt.lr)
                    .betas(std::make_tuple(s.opt.beta1, s.opt.beta2))
                    .eps(s.opt.eps)
                    .weight_decay(s.opt.weight_decay);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    if (!decay.empty()) groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(base));
    auto nd = base;
    nd.weight_decay(0.0);
    if (!no_decay.empty()) groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(nd));
    s.optimizer = std::make_unique<torch::optim::AdamW>(groups, base);
    if (dist::Current().world_size > 1) {
      // identical starting weights on every rank, then the gradient reducer
      std::vector<torch::Tensor> all;
      for (auto& kv : m->named_parameters()) all.push_back(kv.value());
      dist::Broadcast(all, 0);
      s.reducer = std::make_unique<dist::GradientReducer>(s.params);
    }
    return 0;
  });
}

void SetLr(torch::optim::AdamW& o, double lr) {
  for (auto& g : o.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
}

// Autocast around the forward pass (bf16/fp16), per device type, across LibTorch 1.13 and 2.x.
struct AutocastScope {
  bool on = false;
  bool cuda = false;
  AutocastScope(const std::string& precision, const at::Device& dev) {
    if (precision == "fp32") return;
    at::ScalarType dt = precision == "fp16" ? at::kHalf : at::kBFloat16;
    on = true;
    cuda = dev.is_cuda();
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4
    at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, dt);
    at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, true);
#else
    if (cuda) {
      at::autocast::set_autocast_gpu_dtype(dt);
      at::autocast::set_enabled(true);
    } else {
      at::autocast::set_autocast_cpu_dtype(dt);
      at::autocast::set_cpu_enabled(true);
    }
#endif
  }
  ~AutocastScope() {
    if (!on) return;
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4
    at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, false);
#else
    if (cuda) at::autocast::set_enabled(false);
    else at::autocast::set_cpu_enabled(false);
#endif
    at::autocast::clear_cache();
  }
};

struct BatchInput {
  PixelInput pixels;     // 8-bit grey [B, H, W] (normalised on the way in) or normalised float [B, 3, H, W] (CPU)
  torch::Tensor tokens;  // [B, L] int64 (CPU)
  c10::optional<torch::Tensor> groups;
};

BatchInput ReadBatch(const Napi::CallbackInfo& info, bool use_groups, const char* what, int64_t side) {
  BatchInput b;
  b.pixels = PixelsArg(info[0], info[1], what, side);
  b.tokens = TensorFromTypedArray(info[2], ShapeArg(info[3], "tokenShape"), "tokens");
  XT_CHECK(b.tokens.dim() == 2, kShape, "tokens: expected shape [B, L]");
  XT_CHECK(b.tokens.scalar_type() == torch::kInt32, kInvalid, "tokens: expected an Int32Array");
  XT_CHECK(b.tokens.size(0) == b.pixels.n(), kShape,
           "tokens: batch " + std::to_string(b.tokens.size(0)) + " does not match pixels batch " +
               std::to_string(b.pixels.n()));
  XT_CHECK(b.pixels.n() > 0, kShape, "batch is empty");
  b.tokens = b.tokens.to(torch::kInt64);
  if (use_groups && info.Length() > 4 && !info[4].IsNull() && !info[4].IsUndefined()) {
    auto g = TensorFromTypedArray(info[4], {b.pixels.n()}, "groups");
    XT_CHECK(g.scalar_type() == torch::kInt32, kInvalid, "groups: expected an Int32Array");
    b.groups = g.to(torch::kInt64);
  }
  return b;
}

// The features of one micro-batch under the step's autocast (fp32 on the CPU, where the loss runs in fp32).
std::pair<torch::Tensor, torch::Tensor> Encode(clip::ClipModel& m, const Session& s, const torch::Tensor& px,
                                               const torch::Tensor& ids, const at::Device& dev) {
  torch::Tensor img, txt;
  {
    AutocastScope ac(s.opt.precision, dev);
    img = m->encode_image(px);
    txt = m->encode_text(ids);
  }
  if (img.scalar_type() != at::kFloat && !dev.is_cuda()) img = img.to(at::kFloat);
  if (txt.scalar_type() != at::kFloat && !dev.is_cuda()) txt = txt.to(at::kFloat);
  return {img, txt};
}

// The loss on features (gathered over ranks when data-parallel, with gradient).
// lazy (on CUDA): no finiteness checks that would read device values; a non-finite loss comes out instead.
torch::Tensor LossOn(clip::ClipModel& m, const Session& s, torch::Tensor img, torch::Tensor txt,
                     const c10::optional<torch::Tensor>& groups, const at::Device& dev, bool lazy) {
  c10::optional<torch::Tensor> g = groups;
  if (dist::Current().world_size > 1) {
    img = dist::AllGatherWithGrad(img);
    txt = dist::AllGatherWithGrad(txt);
    if (g) g = dist::AllGather(*g);
  }
  if (g && g->device() != img.device()) g = g->to(img.device());
  // Diverged weights give non-finite embeddings, which the loss rejects as bad input: report them as a
  // non-finite step instead (an undefined tensor).
  const bool check = !(lazy && dev.is_cuda());
  if (check && (!torch::isfinite(img).all().item<bool>() || !torch::isfinite(txt).all().item<bool>())) return torch::Tensor();
  return relaxed_contrastive_loss(img, txt, m->logit_scale, s.opt.positive_clip, g, /*validate_values=*/check);
}

// Forward and backward of the whole batch's loss: one pass when accum = 1; with accum > 1 the exact
// full-batch loss at micro-batch memory (grad_cache.h). Returns the detached loss (undefined when the
// features were not finite: no gradient then). `grad_scale`: fp16's loss scale.
torch::Tensor LossBackward(clip::ClipModel& m, Session& s, const torch::Tensor& px, const torch::Tensor& ids,
                           const c10::optional<torch::Tensor>& groups, int accum, double grad_scale,
                           const at::Device& dev, bool lazy) {
  auto prepare = [&] {
    if (s.reducer) s.reducer->Prepare();
  };
  if (accum == 1) {
    auto f = Encode(m, s, px, ids, dev);
    torch::Tensor loss = LossOn(m, s, f.first, f.second, groups, dev, lazy);
    if (!loss.defined()) return loss;
    prepare();
    (grad_scale != 1.0 ? loss * grad_scale : loss).backward();
    return loss.detach();
  }
  return CachedContrastiveBackward(
      px, ids, groups, accum, grad_scale,
      [&](const torch::Tensor& p, const torch::Tensor& i) { return Encode(m, s, p, i, dev); },
      [&](const torch::Tensor& img, const torch::Tensor& txt, const c10::optional<torch::Tensor>& g) {
        return LossOn(m, s, img, txt, g, dev, lazy);
      },
      prepare);
}

bool AllFinite(const std::vector<torch::Tensor>& ts) {
  for (const auto& t : ts)
    if (t.grad().defined() && !torch::isfinite(t.grad()).all().item<bool>()) return false;
  return true;
}

// The key bias of attention (in_proj_bias rows [W, 2W)) adds q . b_k to every score of a query: a constant
// per query, which the softmax cancels. It changes no output, so its exact gradient is zero; the computed
// one is rounding noise, which AdamW divides by its own running RMS and turns into lr-sized random steps
// (different for every summation order: threads, accumulation, ranks). Zeroing it keeps the key bias at
// its value and makes those paths agree.
void ZeroKeyBiasGrads(Session& s) {
  for (auto& p : s.key_bias) {
    if (!p.grad().defined()) continue;
    const int64_t w = p.size(0) / 3;
    p.mutable_grad().narrow(0, w, w).zero_();
  }
}

// What every step starts with: train mode, zeroed gradients, the learning rate, the micro-batch count, and
// the batch on the model's device (on CUDA copied from pinned memory without blocking the host).
struct StepInputs {
  torch::Tensor px, ids;
  int64_t B = 0;
  int accum = 1;
};

StepInputs BeginStep(Session& s, clip::ClipModel& m, const BatchInput& b, double lr) {
  const at::Device dev = s.model->device;
  const bool cuda = dev.is_cuda();
  m->train();
  s.optimizer->zero_grad();
  SetLr(*s.optimizer, lr);
  StepInputs in;
  in.B = b.pixels.n();
  // micro-batch k holds rows [B*k/accum, B*(k+1)/accum): sizes differ by at most one when accum does not
  // divide B, which changes nothing but memory (the loss is the whole batch's, grad_cache.h)
  XT_CHECK(s.opt.accum_steps <= in.B, kInvalid,
           "train: accumSteps (" + std::to_string(s.opt.accum_steps) + ") is larger than the batch (" +
               std::to_string(in.B) + " samples): a micro-batch needs at least one sample");
  in.accum = s.opt.accum_steps;
  in.px = ModelPixels(b.pixels, s.model->pixel_norm, dev, s.model->dtype, /*non_blocking=*/cuda);
  in.ids = b.tokens;  // stays on the host: encode_text reads the pooling positions there, then copies
  return in;
}

// A step without device->host reads (sync_every > 1; fp32/bf16). Gradient clipping runs on the device
// exactly as clip_grad_norm_ computes it (norm of the per-parameter norms, coefficient clamped at 1), minus
// its final read; a non-finite global norm turns the coefficient to 0 and the gradients to zeros (the
// update of that step is then weight decay and moment decay only) and is counted. Every sync_every steps,
// or when `force_sync`, one read brings back the mean loss, the last gradient norm, the logit scale and
// the non-finite count: non-zero is XT_NONFINITE unless skip_nonfinite.
StepResult LazyStep(Session& s, clip::ClipModel& m, const BatchInput& b, double lr, bool force_sync) {
  const at::Device dev = s.model->device;
  const auto [px_all, ids_all, B, accum] = BeginStep(s, m, b, lr);
  StepResult r;
  r.batch = B;
  const auto dopt = torch::TensorOptions().dtype(torch::kDouble).device(dev);
  if (!s.loss_acc.defined()) {
    s.loss_acc = torch::zeros({}, dopt);
    s.bad_acc = torch::zeros({}, dopt);
    s.norm_last = torch::zeros({}, dopt);
  }
  torch::Tensor step_loss = torch::zeros({}, dopt);
  bool host_bad = false;  // CPU only: non-finite embeddings found (free to check there)
  {
    torch::Tensor loss = LossBackward(m, s, px_all, ids_all, b.groups, accum, 1.0, dev, /*lazy=*/true);
    if (loss.defined()) step_loss.add_(loss.to(torch::kDouble));
    else host_bad = true;
  }
  if (host_bad) {
    s.optimizer->zero_grad();
    s.bad_acc.add_(1);
  } else {
    if (s.reducer) s.reducer->Finish();
    ZeroKeyBiasGrads(s);
    std::vector<torch::Tensor> norms;
    std::vector<torch::Tensor> grads;
    for (auto& p : s.params) {
      if (!p.grad().defined()) continue;
      grads.push_back(p.mutable_grad());
      norms.push_back(p.grad().data().norm(2));
    }
    torch::Tensor total = norms.empty() ? torch::zeros({}, dopt)
                                        : (norms.size() == 1 ? norms[0] : torch::stack(norms).norm(2));
    torch::Tensor finite = torch::isfinite(total);
    torch::Tensor coef = s.opt.grad_clip > 0 ? torch::clamp(s.opt.grad_clip / (total + 1e-6), c10::nullopt, 1.0)
                                             : torch::ones_like(total);
    coef = torch::where(finite, coef, torch::zeros_like(coef));
    for (auto& gr : grads) {
      gr.data().mul_(coef);
      gr.data().nan_to_num_(0.0, 0.0, 0.0);  // 0 * NaN: a non-finite step leaves exact zeros
    }
    s.bad_acc.add_(finite.logical_not().to(torch::kDouble));
    s.loss_acc.add_(torch::where(torch::isfinite(step_loss), step_loss, torch::zeros_like(step_loss)));
    s.norm_last = total.detach().to(torch::kDouble);
    FusedAdamWStep(*s.optimizer);
  }
  {
    torch::NoGradGuard ng;
    m->logit_scale.clamp_(0, kMaxLogitScale);
  }
  ++s.pending;
  if (!force_sync && s.pending < s.opt.sync_every) {
    r.synced = false;
    r.steps = 0;
    r.loss = std::numeric_limits<double>::quiet_NaN();
    r.grad_norm = std::numeric_limits<double>::quiet_NaN();
    r.logit_scale = s.model->logit_scale;  // as of the last read
    return r;
  }
  torch::Tensor pack = torch::stack({s.loss_acc, s.bad_acc, s.norm_last,
                                     m->logit_scale.detach().to(torch::kDouble).reshape({})}).cpu();
  const double* v = pack.data_ptr<double>();
  const int64_t n = s.pending, bad = static_cast<int64_t>(v[1]);
  s.loss_acc.zero_();
  s.bad_acc.zero_();
  s.pending = 0;
  r.steps = n;
  r.loss = n > bad ? v[0] / static_cast<double>(n - bad) : std::numeric_limits<double>::quiet_NaN();
  r.grad_norm = v[2];
  r.logit_scale = std::exp(v[3]);
  s.model->logit_scale = r.logit_scale;
  r.nonfinite = bad;
  if (bad > 0 && !s.opt.skip_nonfinite) {
    throw XtError("XT_NONFINITE", "train: " + std::to_string(bad) + " of the last " + std::to_string(n) +
                                      " steps had a non-finite loss or gradient (their updates were zeroed, the weights "
                                      "stay finite); lower the learning rate, or pass --skip-nonfinite to continue past such steps");
  }
  return r;
}

// The training-only behaviour of a step (gradient checkpointing, patch dropout) is switched on for the step
// and off after it, with the model back in eval mode: whatever else encodes with the same model between
// steps (validation, encodeImages) sees the plain model.
struct StepScope {
  clip::ClipModel& m;
  StepScope(clip::ClipModel& model, const Options& o) : m(model) { Set(o.grad_checkpointing, o.patch_dropout); }
  ~StepScope() {
    Set(false, 0);
    m->eval();
  }
  void Set(bool ckpt, double p) {
    m->visual->transformer->grad_checkpointing = ckpt;
    m->text->transformer->grad_checkpointing = ckpt;
    m->visual->patch_dropout = p;
  }
};

StepResult Step(Session& s, BatchInput b, double lr, bool force_sync) {
  std::lock_guard<std::mutex> lock(s.mu);
  return clip::WithModel(s.model, [&](clip::ClipModel& m) {
    StepScope scope(m, s.opt);
    if (s.opt.sync_every > 1 && s.opt.precision != "fp16") return LazyStep(s, m, b, lr, force_sync);
    const at::Device dev = s.model->device;
    const auto [px_all, ids_all, B, accum] = BeginStep(s, m, b, lr);
    StepResult r;
    r.batch = B;
    const bool fp16 = s.opt.precision == "fp16";
    double total = 0;
    bool finite = true;
    {
      torch::Tensor loss = LossBackward(m, s, px_all, ids_all, b.groups, accum, fp16 ? s.loss_scale : 1.0, dev,
                                        /*lazy=*/false);
      if (!loss.defined()) {
        finite = false;
        total = std::numeric_limits<double>::quiet_NaN();
      } else {
        total = loss.item<double>();  // one host sync per step (the JS side logs every step)
        if (!std::isfinite(total)) finite = false;
      }
    }
    if (s.reducer && finite) s.reducer->Finish();
    ZeroKeyBiasGrads(s);
    r.loss = total;
    if (fp16) {
      for (auto& p : s.params)
        if (p.grad().defined()) p.mutable_grad().div_(s.loss_scale);
    }
    if (finite) finite = AllFinite(s.params);
    if (!finite) {
      if (fp16) {  // dynamic loss scaling: back off and skip
        s.loss_scale = std::max(1.0, s.loss_scale / 2);
        s.good_steps = 0;
        r.skipped = true;
      } else if (s.opt.skip_nonfinite) {
        r.skipped = true;
      } else {
        throw XtError("XT_NONFINITE", "train: non-finite loss or gradient (loss = " + std::to_string(total) +
                                          "); lower the learning rate, or pass --skip-nonfinite to skip such steps");
      }
      s.optimizer->zero_grad();
    } else {
      if (s.opt.grad_clip > 0) {
        r.grad_norm = torch::nn::utils::clip_grad_norm_(s.params, s.opt.grad_clip);
      } else {
        double sq = 0;
        for (auto& p : s.params)
          if (p.grad().defined()) sq += p.grad().pow(2).sum().item<double>();
        r.grad_norm = std::sqrt(sq);
      }
      FusedAdamWStep(*s.optimizer);
      if (fp16 && ++s.good_steps >= 2000) {
        s.loss_scale *= 2;
        s.good_steps = 0;
      }
    }
    {
      torch::NoGradGuard ng;
      m->logit_scale.clamp_(0, kMaxLogitScale);  // CLIP keeps the temperature within [1, 100]
    }
    r.logit_scale = std::exp(m->logit_scale.item<double>());
    s.model->logit_scale = r.logit_scale;
    r.loss_scale = fp16 ? s.loss_scale : 1.0;
    return r;
  });
}

double EvalLoss(Session& s, BatchInput b) {
  std::lock_guard<std::mutex> lock(s.mu);
  return clip::WithModel(s.model, [&](clip::ClipModel& m) {
    torch::NoGradGuard ng;
    m->eval();
    const at::Device dev = s.model->device;
    auto px = ModelPixels(b.pixels, s.model->pixel_norm, dev, s.model->dtype);
    const auto& ids = b.tokens;  // encode_text moves what it uses to the device
    torch::Tensor img, txt;
    {
      AutocastScope ac(s.opt.precision, dev);
      img = m->encode_image(px);
      txt = m->encode_text(ids);
    }
    img = img.to(at::kFloat);
    txt = txt.to(at::kFloat);
    c10::optional<torch::Tensor> g = b.groups;
    if (g) g = g->to(dev);
    return relaxed_contrastive_loss(img, txt, m->logit_scale.to(at::kFloat), s.opt.positive_clip, g).item<double>();
  });
}

Napi::Object StepToJs(Napi::Env env, const StepResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("loss", r.loss);
  o.Set("gradNorm", r.grad_norm);
  o.Set("logitScale", r.logit_scale);
  o.Set("skipped", r.skipped);
  o.Set("lossScale", r.loss_scale);
  o.Set("batch", static_cast<double>(r.batch));
  o.Set("synced", r.synced);
  o.Set("steps", static_cast<double>(r.steps));
  o.Set("nonfinite", static_cast<double>(r.nonfinite));
  return o;
}

class TrainSessionWrap : public Napi::ObjectWrap<TrainSessionWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TrainSessionNative",
                       {
                           InstanceMethod<&TrainSessionWrap::StepJs>("step"),
                           InstanceMethod<&TrainSessionWrap::EvalLossJs>("evalLoss"),
                           InstanceMethod<&TrainSessionWrap::SaveOptimizer>("saveOptimizer"),
                           InstanceMethod<&TrainSessionWrap::LoadOptimizer>("loadOptimizer"),
                           InstanceMethod<&TrainSessionWrap::RngState>("rngState"),
                           InstanceMethod<&TrainSessionWrap::SetRngState>("setRngState"),
                           InstanceAccessor<&TrainSessionWrap::TrainableParameters>("trainableParameters"),
                           InstanceAccessor<&TrainSessionWrap::NumTrainable>("numTrainable"),
                       });
  }

  explicit TrainSessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainSessionWrap>(info) {
    Napi::Env env = info.Env();
    try {
      XT_CHECK(info.Length() >= 1, kInvalid, "TrainSession(model, options): model is required");
      s_ = std::make_shared<Session>();
      s_->model = clip::UnwrapClipModel(info[0]);
      XT_CHECK(info.Length() > 1 && info[1].IsObject(), kInvalid,
               "TrainSession(model, options): options (every training option, resolved) are required");
      s_->opt = ParseOptions(info[1].As<Napi::Object>(), s_->model->device.is_cuda());
      Setup(*s_);
      {
        auto gen = at::detail::getDefaultCPUGenerator();
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_current_seed(static_cast<uint64_t>(s_->opt.seed) + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(dist::Current().rank));
      }
    } catch (const Napi::Error& e) {
      throw;
    } catch (...) {
      throw MakeError(env, CurrentError());
    }
  }

 private:
  SessionPtr s_;

  Napi::Value StepJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&]() -> Napi::Value {
      XT_CHECK(info.Length() >= 6 && info[5].IsNumber(), kInvalid,
               "step(pixels, pixelShape, tokens, tokenShape, groups, lr): 6 arguments expected");
      BatchInput b = ReadBatch(info, s_->opt.multi_positive, "step", s_->model->cfg.image_resolution);
      double lr = info[5].As<Napi::Number>().DoubleValue();
      XT_CHECK(lr >= 0 && std::isfinite(lr), kInvalid, "step: lr must be a finite number >= 0");
      const bool sync = info.Length() > 6 && info[6].IsBoolean() && info[6].As<Napi::Boolean>().Value();
      SessionPtr s = s_;
      return RunAsync<StepResult>(
          env, "xt.train.step", [s, b, lr, sync]() { return Step(*s, b, lr, sync); },
          [](Napi::Env env, StepResult& r) -> Napi::Value { return StepToJs(env, r); });
    });
  }

  Napi::Value EvalLossJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&]() -> Napi::Value {
      XT_CHECK(info.Length() >= 4, kInvalid, "evalLoss(pixels, pixelShape, tokens, tokenShape, groups?)");
      BatchInput b = ReadBatch(info, s_->opt.multi_positive, "evalLoss", s_->model->cfg.image_resolution);
      SessionPtr s = s_;
      return RunAsync<double>(
          env, "xt.train.evalLoss", [s, b]() { return EvalLoss(*s, b); },
          [](Napi::Env env, double& l) -> Napi::Value {
            Napi::Object o = Napi::Object::New(env);
            o.Set("loss", l);
            return o;
          });
    });
  }

  Napi::Value SaveOptimizer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&]() -> Napi::Value {
      XT_CHECK(info.Length() >= 1 && info[0].IsString(), kInvalid, "saveOptimizer(path): path must be a string");
      std::string path = info[0].As<Napi::String>().Utf8Value();
      SessionPtr s = s_;
      return RunAsync<Empty>(
          env, "xt.train.saveOptimizer",
          [s, path]() {
            std::lock_guard<std::mutex> lock(s->mu);
            try {
              torch::serialize::OutputArchive ar;
              s->optimizer->save(ar);
              ar.write("loss_scale", torch::tensor(s->loss_scale, torch::kFloat64));
              ar.write("good_steps", torch::tensor(static_cast<int64_t>(s->good_steps)));
              ar.save_to(path);
            } catch (const XtError&) {
              throw;
            } catch (const std::exception& e) {
              throw XtError(kIo, path + ": could not write the optimizer state (" + std::string(e.what()).substr(0, 200) + ")");
            }
            return Empty{};
          },
          [](Napi::Env env, Empty&) -> Napi::Value { return env.Undefined(); });
    });
  }

  Napi::Value LoadOptimizer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&]() -> Napi::Value {
      XT_CHECK(info.Length() >= 1 && info[0].IsString(), kInvalid, "loadOptimizer(path): path must be a string");
      std::string path = info[0].As<Napi::String>().Utf8Value();
      SessionPtr s = s_;
      return RunAsync<Empty>(
          env, "xt.train.loadOptimizer",
          [s, path]() {
            std::lock_guard<std::mutex> lock(s->mu);
            torch::serialize::InputArchive ar;
            try {
              ar.load_from(path);
              s->optimizer->load(ar);
            } catch (const std::exception& e) {
              std::string m = e.what();
              throw XtError(kIo, path + ": not a matching optimizer state (" + m.substr(0, m.find('\n')) + ")");
            }
            torch::Tensor ls, gs;
            if (ar.try_read("loss_scale", ls)) s->loss_scale = ls.item<double>();
            if (ar.try_read("good_steps", gs)) s->good_steps = static_cast<int>(gs.item<int64_t>());
            return Empty{};
          },
          [](Napi::Env env, Empty&) -> Napi::Value { return env.Undefined(); });
    });
  }

  // The CPU default generator's state (what LibTorch's random ops draw from).
  Napi::Value RngState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&]() -> Napi::Value {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      torch::Tensor st = gen.get_state();
      auto buf = Napi::Uint8Array::New(env, static_cast<size_t>(st.numel()));
      std::memcpy(buf.Data(), st.data_ptr(), st.numel());
      return buf;
    });
  }

  Napi::Value SetRngState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&]() -> Napi::Value {
      XT_CHECK(info.Length() >= 1 && info[0].IsTypedArray(), kInvalid, "setRngState(state): a Uint8Array");
      auto a = info[0].As<Napi::Uint8Array>();
      torch::Tensor st = torch::empty({static_cast<int64_t>(a.ElementLength())}, torch::kUInt8);
      std::memcpy(st.data_ptr(), a.Data(), a.ElementLength());
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      try {
        gen.set_state(st);
      } catch (const c10::Error& e) {
        throw XtError(kInvalid, "setRngState: not a CPU generator state");
      }
      return env.Undefined();
    });
  }

  Napi::Value TrainableParameters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array a = Napi::Array::New(env, s_->names.size());
    for (size_t i = 0; i < s_->names.size(); ++i) a.Set(i, s_->names[i]);
    return a;
  }

  Napi::Value NumTrainable(const Napi::CallbackInfo& info) {
    int64_t n = 0;
    for (auto& p : s_->params) n += p.numel();
    return Napi::Number::New(info.Env(), static_cast<double>(n));
  }
};

void InitTrain(Napi::Env env, Napi::Object exports) { exports.Set("TrainSessionNative", TrainSessionWrap::Define(env)); }

}  // namespace
}  // namespace train
}  // namespace xt

XT_REGISTER_MODULE(train, xt::train::InitTrain);
