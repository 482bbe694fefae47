"""The result of a paired comparison: runs, differences, verdicts."""

import json
import math

import numpy as np

from kerasdrop.experiments import statistics


class ExperimentResult:
    """Runs of a paired comparison and their differences to the reference.

    For every variant other than the reference and every metric, the
    differences to the reference, seed by seed, of the metric's `summary`
    value (the last epoch's, or the best epoch's) are summarized by
    `kerasdrop.experiments.paired_difference`: mean, standard deviation,
    the Student t confidence interval of the mean over seeds, the wins,
    ties and losses, and the verdict.

    Args:
        runs: One dict per run, with `"variant"`, `"seed"`, `"history"`
            (metric name -> list of per-epoch values), `"seconds"`,
            `"shared_initial_weights"` and `"reused_compiled_model"`.
        variants: The variant names, in order.
        reference: The reference variant's name.
        metrics: A dict from metric name to `"max"` or `"min"` (whether a
            higher or a lower value is better).
        seeds: The seeds, in order.
        summary: `"last"` or `"best"`: which epoch's value is compared.
        confidence: Coverage of the confidence intervals.
    """

    def __init__(
        self,
        runs,
        variants,
        reference,
        metrics,
        seeds,
        summary="last",
        confidence=0.95,
    ):
        if summary not in ("last", "best"):
            raise ValueError(
                "Invalid value received for argument `summary`. Expected "
                f"'last' or 'best'. Received: summary={summary!r}"
            )
        self.runs = list(runs)
        self.variants = list(variants)
        self.reference = reference
        self.metrics = dict(metrics)
        self.seeds = list(seeds)
        self.summary = summary
        self.confidence = confidence
        self.differences = {}
        for variant in self.variants:
            if variant == reference:
                continue
            self.differences[variant] = {
                metric: statistics.paired_difference(
                    self.values(variant, metric),
                    self.values(reference, metric),
                    higher_is_better=mode == "max",
                    confidence=confidence,
                )
                for metric, mode in self.metrics.items()
            }

    def _runs_of(self, variant):
        runs = {
            run["seed"]: run for run in self.runs if run["variant"] == variant
        }
        if not runs:
            raise ValueError(
                f"Unknown variant {variant!r}. Expected one of {self.variants}."
            )
        return [runs[seed] for seed in self.seeds]

    def history(self, variant, metric):
        """Per-epoch values of `metric`: an array of shape (seeds, epochs).

        A run that stopped early (`keras.callbacks.EarlyStopping`) is
        padded with NaN after its last epoch.
        """
        rows = [run["history"][metric] for run in self._runs_of(variant)]
        history = np.full((len(rows), max(map(len, rows))), np.nan)
        for row, values in zip(history, rows):
            row[: len(values)] = values
        return history

    def values(self, variant, metric):
        """The compared value of `metric` for each seed, as a list: each
        run's last epoch (where it stopped, for a run stopped early) or its
        best epoch, as `summary` says."""
        history = self.history(variant, metric)
        if self.summary == "last":
            lengths = [
                len(run["history"][metric]) for run in self._runs_of(variant)
            ]
            return [row[n - 1] for row, n in zip(history.tolist(), lengths)]
        pick = (
            np.nanmax if self.metrics.get(metric, "max") == "max" else np.nanmin
        )
        return pick(history, axis=1).tolist()

    @property
    def verdicts(self):
        """A dict: variant -> metric -> verdict against the reference."""
        return {
            variant: {m: d["verdict"] for m, d in by_metric.items()}
            for variant, by_metric in self.differences.items()
        }

    def to_dict(self):
        """Everything, as plain Python values (what `to_json` writes)."""
        return {
            "reference": self.reference,
            "variants": self.variants,
            "metrics": self.metrics,
            "seeds": self.seeds,
            "summary": self.summary,
            "confidence": self.confidence,
            "interval": "two-sided Student t interval of the mean over seeds",
            "values": {
                variant: {
                    metric: self.values(variant, metric)
                    for metric in self.metrics
                }
                for variant in self.variants
            },
            "differences": self.differences,
            "runs": self.runs,
        }

    def to_json(self, path=None, indent=1):
        """The result as JSON text; also written to `path` if given.

        NaN (an interval of a single seed) is written as `null`.
        """

        def clean(value):
            if isinstance(value, float) and not math.isfinite(value):
                return None
            if isinstance(value, dict):
                return {key: clean(item) for key, item in value.items()}
            if isinstance(value, (list, tuple)):
                return [clean(item) for item in value]
            return value

        text = json.dumps(clean(self.to_dict()), indent=indent)
        if path is not None:
            with open(path, "w") as file:
                file.write(text + "\n")
        return text

    @classmethod
    def from_json(cls, text):
        """The result that `to_json` wrote (text, not a path)."""
        data = json.loads(text)
        return cls(
            data["runs"],
            data["variants"],
            data["reference"],
            data["metrics"],
            data["seeds"],
            data["summary"],
            data["confidence"],
        )

    def to_markdown(self, digits=3):
        """A Markdown table: one row per variant and metric.

        Columns: the variant's mean ± standard deviation over seeds, the
        paired difference to the reference (mean ± standard deviation), its
        confidence interval, wins/ties/losses and the verdict.
        """
        percent = f"{100 * self.confidence:g}%"
        lines = [
            f"| variant | metric | value | vs {self.reference} | "
            f"{percent} CI | wins/ties/losses | verdict |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        for variant in self.variants:
            for metric in self.metrics:
                mean, std = statistics.mean_std(self.values(variant, metric))
                value = f"{mean:.{digits}f} ± {std:.{digits}f}"
                if variant == self.reference:
                    lines.append(f"| {variant} | {metric} | {value} | | | | |")
                    continue
                d = self.differences[variant][metric]
                interval = (
                    f"[{d['ci_low']:+.{digits}f}, {d['ci_high']:+.{digits}f}]"
                    if d["seeds"] > 1
                    else "n/a"
                )
                lines.append(
                    f"| {variant} | {metric} | {value} | "
                    f"{d['mean']:+.{digits}f} ± {d['std']:.{digits}f} | "
                    f"{interval} | {d['wins']}/{d['ties']}/{d['losses']} | "
                    f"{d['verdict']} |"
                )
        lines.append("")
        lines.append(
            f"Paired by seed over {len(self.seeds)} seeds; {percent} "
            "two-sided Student t interval of the mean difference. A variant "
            "is better (reproduced) or worse (contradicted) only when the "
            "interval excludes zero."
        )
        return "\n".join(lines)

    def plot(self, metric=None, ax=None):
        """Per-epoch mean of `metric` per variant, with a ± std band.

        Args:
            metric: A metric name; the first metric by default.
            ax: A matplotlib axes to draw on; a new figure by default.

        Returns:
            The matplotlib axes.
        """
        # matplotlib is optional: needed only to plot.
        from matplotlib import pyplot as plt

        metric = metric or next(iter(self.metrics))
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        for variant in self.variants:
            history = self.history(variant, metric)
            epochs = np.arange(1, history.shape[1] + 1)
            # Runs stopped early count until their last epoch.
            mean, std = np.nanmean(history, 0), np.nanstd(history, 0)
            (line,) = ax.plot(epochs, mean, label=variant)
            ax.fill_between(
                epochs,
                mean - std,
                mean + std,
                color=line.get_color(),
                alpha=0.15,
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
        return ax

    def __repr__(self):
        return (
            f"<ExperimentResult reference={self.reference!r} variants="
            f"{self.variants} seeds={len(self.seeds)} metrics="
            f"{list(self.metrics)}>"
        )
