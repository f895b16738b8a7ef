"""Ask/tell with a declarative space: drive hptune from your own training loop or scheduler."""

import math

import hptune as ht

space = {
    "x": ht.Float(-5.0, 10.0),
    "y": ht.Float(0.0, 15.0),
    "scale": ht.Float(1e-2, 1e2, log=True),
    "kind": ht.Categorical(["a", "b"]),
}


def branin(x: float, y: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


if __name__ == "__main__":
    study = ht.create_study(direction="minimize", sampler="qmc", seed=0)
    for _ in range(64):
        trial = study.ask(space)  # trial.params holds the whole proposal
        p = trial.params
        study.tell(trial, branin(p["x"], p["y"]) * (1.0 if p["kind"] == "a" else 1.1))
    print(f"best {study.best_value:.4f} at {study.best_params}")
