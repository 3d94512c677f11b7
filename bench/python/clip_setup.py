"""The CLIP training setup both PyTorch baselines use (bench/python/train_clip.py on the CPU,
bench/python/gpu_train_clip.py on a GPU): the model of the `ViT-B-*` presets and AdamW with
binding/train's parameter groups. Needs only torch."""
import torch

from openai_clip import CLIP


def make_model(vocab, context, size, patch=32):
    """ViT-B/<patch> image tower + 12-layer 512-wide text tower (OpenAI's ViT-B configuration)."""
    return CLIP(embed_dim=512, image_resolution=size, vision_layers=12, vision_width=768, vision_patch_size=patch,
                context_length=context, vocab_size=vocab, transformer_width=512, transformer_heads=8,
                transformer_layers=12)


def no_decay(name, p):
    """The same rule as binding/train: biases, norms, embeddings and the logit scale get no decay."""
    return p.ndim < 2 or "embedding" in name or "ln_" in name or "bias" in name or name == "logit_scale"


def make_optimizer(model, lr, wd):
    decay = [p for n, p in model.named_parameters() if not no_decay(n, p)]
    nodecay = [p for n, p in model.named_parameters() if no_decay(n, p)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": nodecay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.98), eps=1e-6)
