"""An exponential moving average of the weights (Polyak averaging, as timm's ModelEmaV2 and the
practitioner's script keep it): after each optimiser step every floating-point tensor of the model's
state (parameters and BatchNorm statistics) moves toward the trained model's by (1 - d), with the decay
warmed up as d = min(decay, (1 + n) / (10 + n)) after n updates, so the early average is not held to
the random start. Integer buffers (BatchNorm's step count) are copied."""

import copy

import torch


class WeightAverage:
    def __init__(self, model, decay):
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)

    def current_decay(self):
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model):
        self.updates += 1
        decay = self.current_decay()
        for average, trained in zip(self.model.state_dict().values(), model.state_dict().values()):
            if average.dtype.is_floating_point:
                average.mul_(decay).add_(trained.detach().to(average.dtype), alpha=1 - decay)
            else:
                average.copy_(trained)

    def state_dict(self):
        return {"decay": self.decay, "updates": self.updates, "model": self.model.state_dict()}

    def load_state_dict(self, state):
        self.decay, self.updates = state["decay"], state["updates"]
        self.model.load_state_dict(state["model"])
