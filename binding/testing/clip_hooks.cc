// CLIP hooks (testing addon only):
//   testing.clipGradients(model, pixels, pixelShape, ids, idShape): the autograd path of a loaded
//   model. Computes CLIP's symmetric contrastive loss on (pixels, ids) with grad mode on,
//   backpropagates, and reports: parameters left without a finite gradient, the largest difference
//   between the autograd-path logits and the fused inference-path logits, and autograd vs
//   central-difference derivatives for a few parameter elements. Gradients are cleared afterwards.
#include <napi.h>
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "clip/clip_binding.h"
#include "clip/clip_model.h"
#include "core/async.h"
#include "core/errors.h"
#include "core/registry.h"
#include "core/tensor_io.h"
#include "testing/testing.h"

namespace xt {
namespace {

using clip::ClipModel;
using clip::StatePtr;
using clip::WithModel;

Napi::Value ClipGradients(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    XT_CHECK(info.Length() >= 5, kInvalid, "clipGradients(model, pixels, pixelShape, ids, idShape): 5 arguments expected");
    StatePtr st = clip::UnwrapClipModel(info[0]);
    auto pixels = TensorFromTypedArray(info[1], ShapeArg(info[2], "pixelShape"), "pixels");
    XT_CHECK(info[3].IsTypedArray() && (info[3].As<Napi::TypedArray>().TypedArrayType() == napi_int32_array ||
                                        info[3].As<Napi::TypedArray>().TypedArrayType() == napi_bigint64_array),
             kInvalid, "clipGradients: ids must be an Int32Array or BigInt64Array");
    auto ids = TensorFromTypedArray(info[3], ShapeArg(info[4], "clipGradients: shape"), "clipGradients: ids");
    XT_CHECK(pixels.size(0) == ids.size(0), kShape, "clipGradients: as many images as texts");
    struct Probe {
      std::string name;
      int64_t index;
      double autograd, numeric;
    };
    struct Out {
      double loss = 0, max_logit_diff = 0;
      std::vector<std::string> bad;
      std::vector<Probe> probes;
    };
    return RunAsync<Out>(
        env, "xt.testing.clipGradients",
        [st, pixels, ids]() {
          return WithModel(st, [&](ClipModel& m) {
            Out out;
            auto px = pixels.to(st->device, st->dtype);
            auto tk = ids;  // encode_text copies it to the device
            auto target = torch::arange(px.size(0), torch::TensorOptions().dtype(torch::kLong).device(st->device));
            auto loss_of = [&]() {
              auto logits = m->forward(px, tk).to(at::kDouble);
              return (torch::nn::functional::cross_entropy(logits, target) +
                      torch::nn::functional::cross_entropy(logits.t(), target)) / 2;
            };
            torch::Tensor logits_grad;
            {
              torch::AutoGradMode on(true);
              logits_grad = m->forward(px, tk);
              auto loss = loss_of();
              loss.backward();
              out.loss = loss.item<double>();
            }
            for (const auto& kv : m->named_parameters(true)) {
              const auto& g = kv.value().grad();
              if (!g.defined() || !torch::isfinite(g).all().item<bool>() || g.abs().max().item<double>() == 0)
                out.bad.push_back(kv.key());
            }
            torch::NoGradGuard ng;
            auto logits_inf = m->forward(px, tk);
            out.max_logit_diff = (logits_grad.detach() - logits_inf).abs().max().item<double>();
            const std::pair<const char*, int64_t> probes[] = {
                {"logit_scale", 0},
                {"visual.transformer.resblocks.0.attn.in_proj_weight", 7},
                {"transformer.resblocks.0.attn.in_proj_weight", 5},
                {"transformer.resblocks.0.mlp.c_fc.weight", 3},
                {"visual.conv1.weight", 11},
            };
            for (const auto& pr : probes) {
              auto p = m->parameter(pr.first);
              auto flat = p.view({-1});
              double ag = p.grad().view({-1})[pr.second].item<double>();
              double orig = flat[pr.second].item<double>();
              const double eps = 1e-2;
              flat[pr.second] = orig + eps;
              double up = loss_of().item<double>();
              flat[pr.second] = orig - eps;
              double down = loss_of().item<double>();
              flat[pr.second] = orig;
              out.probes.push_back({pr.first, pr.second, ag, (up - down) / (2 * eps)});
            }
            for (auto& p : m->parameters(true)) p.mutable_grad().reset();
            return out;
          });
        },
        [](Napi::Env env, Out& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("loss", r.loss);
          o.Set("maxLogitDiff", r.max_logit_diff);
          Napi::Array bad = Napi::Array::New(env, r.bad.size());
          for (size_t i = 0; i < r.bad.size(); ++i) bad.Set(i, r.bad[i]);
          o.Set("withoutGradient", bad);
          Napi::Array pa = Napi::Array::New(env, r.probes.size());
          for (size_t i = 0; i < r.probes.size(); ++i) {
            Napi::Object p = Napi::Object::New(env);
            p.Set("name", r.probes[i].name);
            p.Set("index", static_cast<double>(r.probes[i].index));
            p.Set("autograd", r.probes[i].autograd);
            p.Set("numeric", r.probes[i].numeric);
            pa.Set(i, p);
          }
          o.Set("probes", pa);
          return o;
        });
  });
}

void InitClipHooks(Napi::Env env, Napi::Object exports) {
  testing::Hooks(env, exports).Set("clipGradients", Napi::Function::New(env, ClipGradients, "clipGradients"));
}

}  // namespace
}  // namespace xt

XT_REGISTER_MODULE(testing_clip, xt::InitClipHooks);
