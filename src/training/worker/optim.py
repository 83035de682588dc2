"""AdamW with linear warmup over the first `warmup_fraction` of the steps, then linear decay to 0."""
import torch


def warmup_steps(total_steps, warmup_fraction):
    return max(1, round(total_steps * warmup_fraction))


def warmup_linear_decay(total_steps, warmup_fraction):
    """The learning-rate factor for optimizer step s (0-based): (s + 1) / w during warmup, then
    (total - s) / (total - w), so the last step still learns and the factor reaches 0 after it."""
    warmup = warmup_steps(total_steps, warmup_fraction)

    def factor(step):
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return factor


def build_optimizer(model, lr, weight_decay):
    # No weight decay on biases and normalisation parameters (the usual AdamW practice).
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (no_decay if parameter.ndim <= 1 else decay).append(parameter)
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=lr
    )


def build_scheduler(optimizer, total_steps, warmup_fraction):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_linear_decay(total_steps, warmup_fraction))
