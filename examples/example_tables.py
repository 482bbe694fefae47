"""The documentation's tables, made from the results the examples wrote.

`--docs-images` copies an example's `results.json` into `docs/results/`
as `<output folder>.json`. Each function here turns one such file into the
Markdown rows a page shows; `tests/test_docs_results.py` checks that every
row is on its page, so the docs and the runs cannot drift apart. After a
new run, print the rows and paste them into the page:

    python examples/example_tables.py

`--compare NAME OTHER` prints, per logged value, the largest difference
between two results files of the same command (two kernel paths, say).
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "docs", "results")


def _cell(mean_std, digits=3, scale=1.0):
    return (
        f"{scale * mean_std[0]:.{digits}f} ± {scale * mean_std[1]:.{digits}f}"
    )


def _paired(d, digits=3):
    return (
        f"{d['mean']:+.{digits}f} ± {d['std']:.{digits}f} "
        f"[{d['ci_low']:+.{digits}f}, {d['ci_high']:+.{digits}f}] "
        f"({d['wins']}/{d['seeds']})"
    )


def transfer_tables(results):
    """The two tables of the transfer guide's results."""
    summary = results["summary"]
    lines = [
        "| variant | val acc (final) | vs no dropout [95% CI] (wins/seeds) "
        "| verdict |",
        "|---|---|---|---|",
    ]
    for variant, row in summary.items():
        if variant == "no-dropout":
            lines.append(f"| {variant} | {_cell(row['val_accuracy'])} | | |")
            continue
        lines.append(
            f"| {variant} | {_cell(row['val_accuracy'])} | "
            f"{_paired(row['difference_to_no_dropout'])} | {row['verdict']} |"
        )
    lines += [
        "",
        "| variant | val acc (best) | train acc | correlation "
        "| effective rank |",
        "|---|---|---|---|---|",
    ]
    for variant, row in summary.items():
        lines.append(
            f"| {variant} | {_cell(row['best_val_accuracy'])} | "
            f"{_cell(row['train_accuracy'])} | {_cell(row['correlation'])} | "
            f"{_cell(row['effective_rank'], 1)} |"
        )
    return lines


def experiment_table(results):
    """The `kerasdrop.experiments` table of a `dropout_claims` run."""
    experiment = results["experiment"]
    lines = [
        "| variant | val accuracy | vs "
        f"{experiment['reference']} [95% CI] (wins/seeds) | verdict |",
        "|---|---:|---:|---|",
    ]
    for variant in experiment["variants"]:
        values = experiment["values"][variant]["val_accuracy"]
        mean = sum(values) / len(values)
        spread = (
            sum((v - mean) ** 2 for v in values) / (len(values) - 1)
        ) ** 0.5
        if variant == experiment["reference"]:
            lines.append(f"| {variant} | {mean:.3f} ± {spread:.3f} | | |")
            continue
        d = experiment["differences"][variant]["val_accuracy"]
        lines.append(
            f"| {variant} | {mean:.3f} ± {spread:.3f} | {_paired(d)} | "
            f"{d['verdict']} |"
        )
    if "convergence" in results:
        lines += [
            "",
            "| measure | variant | epochs | vs none [95% CI] (wins/seeds) "
            "| verdict |",
            "|---|---|---:|---:|---|",
        ]
        convergence = results["convergence"]
        for measure, by_variant in convergence["epochs"].items():
            for variant, mean_std in by_variant.items():
                d = convergence["differences"][measure].get(variant)
                compared = (
                    f"{_paired(d, digits=1)} | {d['verdict']} |" if d else "| |"
                )
                lines.append(
                    f"| {measure} | {variant} | {_cell(mean_std, 1)} | "
                    f"{compared}"
                )
    if "variance_shift" in results:
        lines += ["", "| variant | bn_1 | bn_2 |", "|---|---:|---:|"]
        for variant, layers in results["variance_shift"].items():
            cells = " | ".join(_cell(v) for v in layers.values())
            lines.append(f"| {variant} | {cells} |")
    return lines


def recurrent_table(results):
    """The table of `mnist1d_recurrent.py`: each layer against `none`."""
    lines = [
        "| layer | method | test accuracy | vs none [95% CI] (wins/seeds) "
        "| verdict | train accuracy |",
        "|---|---|---:|---:|---|---:|",
    ]
    for row in results["summary"].values():
        if row["method"] == "none":
            compared = "| |"
        else:
            compared = (
                f"{_paired(row['test_accuracy_vs_none'])} | {row['verdict']} |"
            )
        lines.append(
            f"| {row['cell']} | {row['method']} | "
            f"{_cell(row['test_accuracy'])} | {compared} "
            f"{_cell(row['train_accuracy'])} |"
        )
    return lines


def _mnist1d_schedule(variant, rate, epochs):
    """The schedule of an `mnist1d_dropout.py` variant, as the page names
    it (`example_utils.make_schedule` makes it)."""
    cutoff = max(epochs // 4, 1)
    return {
        "none": "rate 0",
        "fixed": f"`Constant({rate:g})`",
        "annealed": f"`Linear({rate:g}, 0, {max(epochs - 1, 1)})`",
        "curriculum": f"`Curriculum({rate:g}, gamma={10 / epochs:g})`",
        "early": f"`EarlyDropout({rate:g}, cutoff={cutoff})`",
        "late": f"`LateDropout({rate:g}, cutoff={cutoff})`",
    }[variant]


def _compared(d, digits=3):
    """`paired | verdict` cells, empty for the reference itself."""
    return f"{_paired(d, digits)} | {d['verdict']}" if d else " |"


def predictive_table(predictive, names=None):
    """The lines of the table of how well each co-adaptation measure's
    change predicts the accuracy gain and follows the final rate
    (`mnist1d_dropout.py`'s `coadaptation["predictive"]`); `names` maps a
    measure to the name shown (the measure itself by default)."""
    lines = [
        "| change against no dropout | r with accuracy gain "
        "| r with final rate |",
        "|---|---:|---:|",
    ]
    for measure, row in predictive.items():
        cells = [
            "n/a" if value is None else f"{value:+.2f}"
            for value in (row["r_with_accuracy_gain"], row["r_with_final_rate"])
        ]
        name = measure if names is None else names[measure]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    return lines


def mnist1d_dropout_tables(results):
    """The MNIST-1D tables of `mnist1d_dropout.py` on the page."""
    config = results["config"]
    anchor = results["anchor"]["summary"]
    lines = [
        "| model | test accuracy | vs no dropout [95% CI] (wins/seeds) "
        "| verdict | paper |",
        "|---|---:|---:|---|---:|",
        f"| MLP, no dropout | {_cell(anchor['none']['test_accuracy'])} | | "
        f"| {results['paper_accuracy']['MLP']:.2f} |",
        f"| MLP, dropout {config['anchor_rate']:g} after each hidden layer | "
        f"{_cell(anchor['fixed']['test_accuracy'])} | "
        f"{_compared(anchor['fixed']['test_accuracy_vs_none'])} | |",
    ]
    summary = results["overfitting"]["summary"]
    lines += [
        "",
        "| variant | schedule | test accuracy | vs no dropout [95% CI] "
        "(wins/seeds) | verdict | vs fixed [95% CI] (wins/seeds) "
        "| verdict | train accuracy |",
        "|---|---|---:|---:|---|---:|---|---:|",
    ]
    for variant, row in summary.items():
        vs_none = None if variant == "none" else row["test_accuracy_vs_none"]
        vs_fixed = row.get("test_accuracy_vs_fixed")
        schedule = _mnist1d_schedule(variant, config["rate"], config["epochs"])
        lines.append(
            f"| {variant} | {schedule} | {_cell(row['test_accuracy'])} | "
            f"{_compared(vs_none)} | {_compared(vs_fixed)} | "
            f"{_cell(row['train_accuracy'])} |"
        )
    lines += [
        "",
        "| variant | final training loss | vs no dropout [95% CI] "
        "(wins/seeds) | verdict | test error | vs no dropout [95% CI] "
        "(wins/seeds) | verdict |",
        "|---|---:|---:|---|---:|---:|---|",
    ]
    for variant, row in results["underfitting"]["summary"].items():
        cells = []
        for key in ("train_loss", "test_error"):
            d = None if variant == "none" else row[f"{key}_vs_none"]
            cells.append(f"{_cell(row[key])} | {_compared(d)}")
        lines.append(f"| {variant} | {cells[0]} | {cells[1]} |")
    coadaptation = results["coadaptation"]
    lines += [
        "",
        "| variant | final rate | correlation | vs none | effective rank "
        "| vs none | relative ablation area | vs none |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for variant, row in coadaptation["per_variant"].items():
        cells = [f"{row['final_rate']:.2f}"]
        for key, digits in (
            ("correlation", 3),
            ("effective_rank", 1),
            ("ablation_relative_area", 3),
        ):
            d = row[f"{key}_vs_none"]
            compared = "" if variant == "none" else _paired(d, digits)
            cells.append(f"{_cell(row[key], digits)} | {compared}")
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    names = {
        "correlation": "correlation",
        "effective_rank": "effective rank",
        "area": "ablation area",
        "relative_area": "relative ablation area",
    }
    lines += [""] + predictive_table(coadaptation["predictive"], names)
    places = {
        "softmax layer": "softmax layer",
        "hidden ReLU": "hidden ReLU layer of 32 units, then softmax",
    }
    lines += [
        "",
        "| after the dropout | masks | max abs(geometric − inference) "
        "| max abs(arithmetic − inference) |",
        "|---|---:|---:|---:|",
    ]
    for name, row in results["ensemble"]["exact"].items():
        lines.append(
            f"| {places[name]} | {row['num_masks']} | "
            f"{row['max_abs_geometric_minus_inference']:.2e} | "
            f"{row['max_abs_arithmetic_minus_inference']:.2e} |"
        )
    mc = results["ensemble"]["monte_carlo"]
    counts = mc["sample_counts"]
    lines += [
        "",
        "| samples | " + " | ".join(str(c) for c in counts) + " |",
        "|---|" + "---:|" * len(counts),
        "| MC test error | "
        + " | ".join(
            f"{m:.3f} ± {s:.3f}"
            for m, s in zip(mc["mc_error_mean"], mc["mc_error_std"])
        )
        + " |",
    ]
    # The reference's empty cells: `| |`, not `|  |`.
    return [
        line.replace("|  |", "| |").replace("|  |", "| |") for line in lines
    ]


def vit_stochastic_depth_table(results):
    """The table of `vit_stochastic_depth.py`: each variant against
    `none`, by final validation accuracy."""
    lines = [
        "| variant | val accuracy | vs none [95% CI] (wins/seeds) "
        "| verdict | train accuracy |",
        "|---|---:|---:|---|---:|",
    ]
    for variant, row in results["summary"].items():
        if "val_accuracy_vs_none" in row:
            compared = (
                f"{_paired(row['val_accuracy_vs_none'])} | "
                f"{row['val_accuracy_verdict']} |"
            )
        else:
            compared = "| |"
        lines.append(
            f"| {variant} | {_cell(row['val_accuracy'])} | {compared} "
            f"{_cell(row['train_accuracy'])} |"
        )
    return lines


def _chosen(names):
    """`"dropout-0.2 ×3, dropout-0.5 ×2"`: how often each was chosen."""
    counts = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{name} ×{count}" for name, count in counts.items())


def tiny_data_table(results):
    """The tables of `dropout_claims.py --claim tiny-data`: per dataset,
    each regularizer's test score (its strength chosen per seed on
    validation) and the paired comparisons."""
    lines = []
    for dataset, data in results["datasets"].items():
        mse = data["metric"] == "test_mse"
        digits = 0 if mse else 3
        header = "test MSE | test $R^2$" if mse else "test accuracy"
        lines += [
            "" if lines else None,
            f"| {dataset} | {header} | chosen on validation (seeds) |",
            "|---|---:|" + ("---:|" if mse else "") + "---|",
        ]
        for family, mean_std in data["summary"].items():
            cells = _cell(mean_std, digits)
            if mse:
                cells += f" | {_cell(data['r2'][family])}"
            lines.append(
                f"| {family} | {cells} | {_chosen(data['chosen'][family])} |"
            )
        lines += [
            "",
            f"| {dataset} | {data['metric']}, paired [95% CI] (wins/seeds) "
            "| verdict |"
            + (" $R^2$, paired [95% CI] (wins/seeds) |" if mse else ""),
            "|---|---:|---|" + ("---:|" if mse else ""),
        ]
        for pair, d in data["differences"].items():
            row = f"| {pair} | {_paired(d, digits)} | {d['verdict']} |"
            if mse:
                row += f" {_paired(data['r2_differences'][pair])} |"
            lines.append(row)
    return [line for line in lines if line is not None]


def concrete_table(results):
    """The table of `dropout_claims.py --claim concrete`."""
    lines = [
        "| variant | test accuracy | chosen on validation (seeds) |",
        "|---|---:|---|",
    ]
    for name, mean_std in results["summary"].items():
        chosen = _chosen(results["chosen"]) if name == "best-fixed" else ""
        lines.append(f"| {name} | {_cell(mean_std)} | {chosen} |")
        lines[-1] = lines[-1].replace("|  |", "| |")
    lines += [
        "",
        "| comparison | test accuracy, paired [95% CI] (wins/seeds) "
        "| verdict |",
        "|---|---:|---|",
    ]
    for pair, d in results["differences"].items():
        lines.append(f"| {pair} | {_paired(d)} | {d['verdict']} |")
    lines += ["", "| layer | learned rate after training |", "|---|---:|"]
    for layer, mean_std in results["learned_rates"]["final"].items():
        lines.append(f"| {layer} | {_cell(mean_std)} |")
    return lines


def adversarial_table(results):
    """The tables of `dropout_claims.py --claim adversarial`: accuracy
    under attack, and that accuracy relative to the clean one."""
    none, dropout = results["variants"]
    clean = results["clean"]
    lines = [
        f"| attack | ε | {none} | {dropout} | paired [95% CI] "
        "(wins/seeds) | verdict |",
        "|---|---:|---:|---:|---:|---|",
        f"| clean | 0 | {_cell(_mean_std(clean[none]))} | "
        f"{_cell(_mean_std(clean[dropout]))} | "
        f"{_paired(results['clean_difference'])} | "
        f"{results['clean_difference']['verdict']} |",
    ]
    relative = [
        "",
        f"| attack | ε | {none}: adversarial / clean | {dropout}: "
        "adversarial / clean | paired [95% CI] (wins/seeds) | verdict |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in results["attacks"]:
        start = f"| {row['attack'].upper()} | {row['epsilon']:g} |"
        for key, target in (("accuracy", lines), ("relative", relative)):
            d = row[f"{key}_difference"]
            target.append(
                f"{start} {_cell(_mean_std(row[none][key]))} | "
                f"{_cell(_mean_std(row[dropout][key]))} | {_paired(d)} | "
                f"{d['verdict']} |"
            )
    return lines + relative


def _mean_std(values):
    mean = sum(values) / len(values)
    spread = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return mean, spread


# results file -> (page or pages, function that makes its rows)
TABLES = {
    "transfer_resnet_head.json": ("docs/guides/transfer.md", transfer_tables),
    "transfer_resnet_head_onednn_off.json": (
        "docs/guides/transfer.md",
        transfer_tables,
    ),
    "dropout_claims_batch_norm.json": (
        "docs/what-dropout-does.md",
        experiment_table,
    ),
    "dropout_claims_layer_rates.json": (
        "docs/what-dropout-does.md",
        experiment_table,
    ),
    "dropout_claims_convergence.json": (
        "docs/what-dropout-does.md",
        experiment_table,
    ),
    "dropout_claims_width.json": (
        "docs/what-dropout-does.md",
        experiment_table,
    ),
    "dropout_claims_tiny_data.json": (
        "docs/what-dropout-does.md",
        tiny_data_table,
    ),
    "dropout_claims_concrete.json": (
        "docs/what-dropout-does.md",
        concrete_table,
    ),
    "dropout_claims_adversarial.json": (
        "docs/what-dropout-does.md",
        adversarial_table,
    ),
    "mnist1d_dropout.json": (
        "docs/what-dropout-does.md",
        mnist1d_dropout_tables,
    ),
    "mnist1d_recurrent.json": (
        ("docs/what-dropout-does.md", "docs/guides/recurrent.md"),
        recurrent_table,
    ),
    "vit_stochastic_depth.json": (
        "docs/what-dropout-does.md",
        vit_stochastic_depth_table,
    ),
}


def tables():
    """`(results file, page, rows)` for every results file present and
    every page that shows its table."""
    for name, (pages, make) in TABLES.items():
        path = os.path.join(RESULTS, name)
        if os.path.exists(path):
            with open(path) as file:
                rows = make(json.load(file))
            for page in (pages,) if isinstance(pages, str) else pages:
                yield name, page, rows


def largest_differences(first, second):
    """Per history key, the largest difference between two runs' results.

    `first` and `second` are results of the same command (say with and
    without oneDNN): the largest absolute difference of each per-epoch
    value over all runs.
    """
    largest = {}
    for a, b in zip(first["runs"], second["runs"]):
        for key, values in a["history"].items():
            gaps = [abs(x - y) for x, y in zip(values, b["history"][key])]
            largest[key] = max(largest.get(key, 0.0), max(gaps))
    return largest


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--compare":
        # python examples/example_tables.py --compare NAME OTHER_NAME
        loaded = []
        for name in sys.argv[2:]:
            with open(os.path.join(RESULTS, f"{name}.json")) as file:
                loaded.append(json.load(file))
        for key, gap in largest_differences(*loaded).items():
            print(f"{key}: {gap:.3g}")
        sys.exit(0)
    for name, page, rows in tables():
        print(f"<!-- {page}, from docs/results/{name} -->")
        print("\n".join(rows), end="\n\n")
