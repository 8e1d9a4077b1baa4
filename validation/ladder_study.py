r"""λ̂ and m̂ from a ladder of nβ against one temperature, on every cell with a known (λ, m) that
the estimator's finite-nβ bias hurts most: the Lau et al. (2023) Table 1 set and the validation
cells with m > 1.

    python -m rlct.validation.ladder_study --out reports/ladder [--seeds 1] [--cells lau-1-1,...]

Per cell and seed, every rung t of the cell's ladder is one resumable unit (atomic JSON): the
cell's recommended sampler at nβ = t (`rlct.numeric.ladder.tuned_rung_settings`: MALA takes the
largest step of its p-grid that a pilot accepts at ≥ 0.6; the rung's seed from `rung_seed`), on the
seed's data, and where the case has one, its exact
Gibbs sampler at the same t on the same data (the estimator's own target there). The Table 1
cells sample the population loss (`PolyCase.population_loss`: L − L(w*) = K, n = ∞) with
full-batch MALA: with sampled data the fluctuation of a quartic direction is of order √(t/n), not
t/n — on y⁴ with n = 10⁷ (seed 0) the rungs read 0.2617, 0.2678, 0.2850 at t = 10⁴, 3·10⁴, 10⁵
against the exact 0.2488, 0.2493, 0.2496, so the top of a ladder at t = n/100 is already the
data's, not K's. Per cell once:
the exact tempered targets t E_t[K] by quadrature where the case computes them (poly, tanh).
The report fits each ladder with `rlct.numeric.ladder_fit.fit_ladder` and puts side by side:
λ̂ at the recommended nβ = 1000 (one temperature), the corrected λ̂ and m̂ from the sampler's
ladder, and the same fit on the exact rungs, the correction's own error with no sampler in it
(theory.md sec. 8: whose error is it).

The deep linear network cell (dln 1e3, m = 3) uses the Gibbs ladder of `reports/nbeta-dln`
(population statistics, nβ = 10² … 10⁵) and has no sampler ladder here.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rlct.validation.store import atomic_write_text, load_records, run_missing

HALF_DECADES_TO_1E7 = tuple(10 ** (2 + k / 2) for k in range(11))
SINGLE_NBETA = 1000.0
SHORT_TOP = 1e5  # the report also fits each longer sampler ladder up to here only
LAU_CHAINS, LAU_STEPS, LAU_BURNIN = 32, 20_000, 4_000


@dataclass(frozen=True)
class Cell:
    name: str
    case: str
    scale: str
    params: dict[str, Any]
    ladder: tuple[float, ...]
    chains: int | None = None  # override of the recommended settings (None: keep)
    steps: int | None = None
    burnin: int | None = None
    gibbs: bool = False
    quadrature: bool = False
    population: bool = False  # full-batch sampling of the population loss (n = infinity): poly only
    validation_cells: tuple[str, ...] = ()  # the cells of the validation report it stands for


def cells() -> list[Cell]:
    from rlct.cases.poly import LAU_TABLE1

    out = [
        Cell(f"lau-{a}-{b}", "poly", f"lau-{a}-{b}", {}, HALF_DECADES_TO_1E7, LAU_CHAINS, LAU_STEPS,
             LAU_BURNIN, quadrature=True, population=True,
             validation_cells=(f"poly/lau-{a}-{b}",) + (("poly/2",) if (a, b) == (1, 1) else ()))
        for a, b in LAU_TABLE1
    ]
    out += [
        Cell("rrr-1e1-m2", "rrr", "1e1-m2", {"n": 4_000_000}, (1e2, 10**2.5, 1e3, 10**3.5, 1e4, 10**4.5),
             gibbs=True, validation_cells=("rrr/1e1-m2",)),
        Cell("rrr-1e2", "rrr", "1e2", {"n": 1_000_000}, (1e2, 10**2.5, 1e3, 10**3.5, 1e4),
             gibbs=True, validation_cells=("rrr/1e2",)),
    ]
    return out


def _case(cell: Cell) -> Any:
    from rlct.cases import get_case

    return get_case(cell.case).at_scale(cell.scale, **cell.params)


def _settings(cell: Cell, case: Any) -> Any:
    settings = case.recommended()
    changes = {k: v for k, v in (("chains", cell.chains), ("steps", cell.steps), ("burnin", cell.burnin))
               if v is not None}
    return settings.replace(**changes)


def run_exact(cell: Cell) -> dict[str, Any]:
    from rlct.numeric.ladder import rung_settings

    case = _case(cell)
    exact = case.exact()
    settings = _settings(cell, case)
    n = case.parameters["n"]
    references = None
    if cell.quadrature:
        references = [case.finite_nbeta_reference(rung_settings(settings, t, n)) for t in cell.ladder]
    return {"kind": "exact", "cell": cell.name, "lambda": str(exact.value), "lambda_float": float(exact.value),
            "multiplicity": int(exact.multiplicity), "dim": case.dim, "n": n, "ladder": list(cell.ladder),
            "references": references}


def run_rung(cell: Cell, seed: int, rung: int, sampler: str) -> dict[str, Any]:
    from rlct.numeric.ladder import rung_seed, tuned_rung_settings
    from rlct.numeric.llc import estimate_llc

    case = _case(cell)
    base = _settings(cell, case)
    if sampler == "gibbs":
        base = case.reference_settings(base)
    target = case.build(seed=seed).target
    if cell.population:
        if not base.full_batch:
            raise ValueError(f"{cell.name}: population loss needs a full-batch sampler, got {base.sampler}")
        target = dataclasses.replace(target, full_data_loss=case.population_loss())
    settings, pilots = tuned_rung_settings(target, base, cell.ladder[rung], seed=seed, rung=rung, device="cpu")
    result = estimate_llc(target, settings, seed=rung_seed(seed, rung), device="cpu")
    acceptance = result.acceptance_rate
    return {"kind": "rung", "cell": cell.name, "seed": seed, "rung": rung, "sampler": sampler,
            "nbeta": result.nbeta, "step_size": settings.step_size, "chains": settings.chains,
            "steps": settings.steps, "llc_mean": result.llc_mean, "llc_stderr": result.llc_stderr,
            "rhat": result.rhat, "ess": result.ess, "diverged": int(result.diverged.sum()),
            "acceptance": None if acceptance is None else float(acceptance.mean()),
            "wall_time": result.wall_time, "settings_sampler": settings.sampler,
            "data": "population" if cell.population else f"n = {case.parameters['n']}", **pilots}


def _pct(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:+.1f}%"


def _fit(nbetas: Sequence[float], values: Sequence[float], stderrs: Sequence[float] | None) -> Any:
    from rlct.numeric.ladder_fit import fit_ladder

    keep = [i for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if len(keep) < 3:
        return None
    return fit_ladder([nbetas[i] for i in keep], [values[i] for i in keep],
                      None if stderrs is None else [stderrs[i] for i in keep])


def _series(rungs: dict[int, dict[str, Any]], count: int) -> tuple[list[float], list[float]]:
    """(llc_mean, llc_stderr) of rung records 0 .. count - 1, in ladder order."""
    return [rungs[k]["llc_mean"] for k in range(count)], [rungs[k]["llc_stderr"] for k in range(count)]


def _dln_rows(nbeta_csv: Path) -> list[dict[str, Any]]:
    """The dln 1e3 (m = 3) cell from the population Gibbs ladder of `reports/nbeta-dln`."""
    if not nbeta_csv.exists():
        return []
    import pandas as pd

    frame = pd.read_csv(nbeta_csv)
    frame = frame[frame["scale"].astype(str).isin(["1e3", "1000.0"])].sort_values("nbeta")
    if len(frame) < 3:
        return []
    lam = float(frame["lambda_exact_float"].iloc[0])
    fit = _fit(list(frame["nbeta"]), list(frame["lambda_beta"]), list(frame["lambda_beta_se"]))
    single = frame[frame["nbeta"] == SINGLE_NBETA]["lambda_beta"]
    return [{
        "cell": "dln-1e3 (Gibbs, population)", "validation_cells": "dln/1e3", "lambda": lam,
        "lambda_text": str(frame["lambda_exact"].iloc[0]), "m": int(frame["multiplicity"].iloc[0]),
        "seeds": 1, "ladder": "1e2..1e5 (4)", "single": None,
        "single_error": None, "corrected": None, "corrected_se": None, "corrected_error": None,
        "m_hat": None, "model": None,
        "reference_single_error": (float(single.iloc[0]) - lam) / lam if len(single) else None,
        "reference_corrected_error": None if fit is None else (fit.lam - lam) / lam,
        "reference_m_hat": None if fit is None else fit.multiplicity,
        "warnings": "" if fit is None else "; ".join(w.split(":")[0] for w in fit.warnings),
        "cost_ratio": None,
    }]


def rows(records: Sequence[dict[str, Any]], nbeta_csv: Path | None = None) -> list[dict[str, Any]]:
    exact = {r["cell"]: r for r in records if r["kind"] == "exact"}
    known = {c.name: c for c in cells()}
    out = []
    for name, e in exact.items():
        cell = known.get(name)
        if cell is None:
            continue
        lam, ladder = e["lambda_float"], e["ladder"]
        single_index = ladder.index(SINGLE_NBETA) if SINGLE_NBETA in ladder else None
        per_seed: dict[int, dict[str, dict[int, dict[str, Any]]]] = {}
        for r in records:
            if r["kind"] == "rung" and r["cell"] == name:
                per_seed.setdefault(r["seed"], {}).setdefault(r["sampler"], {})[r["rung"]] = r
        fits, singles, ref_fits, ref_singles, warnings, costs, max_rhat = [], [], [], [], [], [], []
        short_fits = []  # the same sampler rungs, up to SHORT_TOP only
        short = [k for k, t in enumerate(ladder) if t <= SHORT_TOP * (1 + 1e-9)]
        for _seed, by_sampler in sorted(per_seed.items()):
            rungs = by_sampler.get("estimate", {})
            if len(rungs) == len(ladder):
                values, stderrs = _series(rungs, len(ladder))
                fit = _fit(ladder, values, stderrs)
                if fit is not None:
                    fits.append(fit)
                    warnings += [w.split(":")[0] for w in fit.warnings]
                if 3 <= len(short) < len(ladder):
                    short_fit = _fit([ladder[k] for k in short], [values[k] for k in short],
                                     [stderrs[k] for k in short])
                    if short_fit is not None:
                        short_fits.append(short_fit)
                if single_index is not None:
                    singles.append(values[single_index])
                    costs.append(sum(rungs[k]["chains"] * rungs[k]["steps"] + rungs[k].get("pilot_cost", 0.0)
                                     for k in range(len(ladder)))
                                 / (rungs[single_index]["chains"] * rungs[single_index]["steps"]))
                max_rhat.append(max(rungs[k]["rhat"] for k in range(len(ladder))))
            gibbs = by_sampler.get("gibbs", {})
            if len(gibbs) == len(ladder):
                values, stderrs = _series(gibbs, len(ladder))
                ref = _fit(ladder, values, stderrs)
                if ref is not None:
                    ref_fits.append(ref)
                if single_index is not None:
                    ref_singles.append(values[single_index])
        if e.get("references") and not ref_fits:
            ref = _fit(ladder, e["references"], None)
            if ref is not None:
                ref_fits.append(ref)
            if single_index is not None:
                ref_singles.append(e["references"][single_index])

        def mean(values: list[float]) -> float | None:
            return sum(values) / len(values) if values else None

        corrected = mean([f.lam for f in fits])
        ref_corrected = mean([f.lam for f in ref_fits])
        single = mean(singles)
        ref_single = mean(ref_singles)
        out.append({
            "cell": name, "validation_cells": " ".join(cell.validation_cells), "lambda": lam,
            "lambda_text": e["lambda"],
            "m": e["multiplicity"], "seeds": len(fits),
            "ladder": f"{ladder[0]:.0e}..{ladder[-1]:.0e} ({len(ladder)})",
            "single": single, "single_error": None if single is None else (single - lam) / lam,
            "corrected": corrected,
            "corrected_se": (mean([f.lam_stderr**2 for f in fits]) ** 0.5 / len(fits) ** 0.5) if fits else None,
            "corrected_error": None if corrected is None else (corrected - lam) / lam,
            "m_hat": "/".join(str(f.multiplicity) for f in fits) or None,
            "corrected_short_error": (None if not short_fits else
                                      (mean([f.lam for f in short_fits]) - lam) / lam),  # type: ignore[operator]
            "m_hat_short": "/".join(str(f.multiplicity) for f in short_fits) or None,
            "model": "/".join(f.model for f in fits) or None,
            "reference_single_error": None if ref_single is None else (ref_single - lam) / lam,
            "reference_corrected_error": None if ref_corrected is None else (ref_corrected - lam) / lam,
            "reference_m_hat": "/".join(str(f.multiplicity) for f in ref_fits) or None,
            "warnings": "; ".join(sorted(set(warnings))),
            "cost_ratio": mean(costs),
            "max_rhat": max(max_rhat) if max_rhat else None,
        })
    if nbeta_csv is not None:
        out += _dln_rows(nbeta_csv)
    return out


def _headline(table: list[dict[str, Any]]) -> list[str]:
    measured = [r for r in table if r["corrected_error"] is not None and r["single_error"] is not None]
    if not measured:
        return ["No cell has a finished sampler ladder yet."]
    worst_single = max(measured, key=lambda r: abs(r["single_error"]))
    worst = max(measured, key=lambda r: abs(r["corrected_error"]))
    verdict = "brings" if abs(worst["corrected_error"]) < 0.15 else "does not bring"
    m_right = sum(1 for r in measured if r["m_hat"] and all(int(v) == r["m"] for v in str(r["m_hat"]).split("/")))
    return [
        f"**The ladder correction {verdict} the maximum error under 15%** on the {len(measured)} cells with a "
        f"finished sampler ladder: worst corrected error {_pct(worst['corrected_error'])} ({worst['cell']}), "
        f"against {_pct(worst_single['single_error'])} ({worst_single['cell']}) for one temperature at "
        f"nβ = {SINGLE_NBETA:g}. m̂ equals the exact m in {m_right} of {len(measured)} cells.",
    ]


def write_report(out: Path, records: Sequence[dict[str, Any]], nbeta_csv: Path, command: str) -> None:
    import pandas as pd

    table = rows(records, nbeta_csv)
    atomic_write_text(out / "ladder.csv", pd.DataFrame(table).to_csv(index=False))

    def num(value: Any, digits: int = 4) -> str:
        missing = value is None or (isinstance(value, float) and not math.isfinite(value))
        return "n/a" if missing else f"{value:.{digits}g}"

    lines = [
        "# λ and m from a ladder of nβ, against one temperature",
        "",
        "The estimator's own target λ_t = t E_t[K] tends to λ only like λ − (m − 1)/log t (theory.md sec. 8), "
        "so one temperature cannot give λ. Each cell runs its recommended sampler at every rung of a "
        "geometric ladder (`rlct.numeric.ladder`; MALA with its step tuned per rung by pilots, 32 chains "
        "for the Table 1 set; cost × counts the pilots) and "
        "fits λ_t with `rlct.numeric.ladder_fit` (λ − Σ 1/(log t + a_j) with m − 1 log terms, plus a power "
        "correction where the ladder pays for it). Errors are (value − λ)/λ. *Exact rungs* is the same fit on "
        "the exact targets (quadrature for poly; the exact Gibbs sampler on the same data for rrr and dln): "
        "the correction's own error, without the sampler's.",
        "",
        *_headline(table),
        "",
        "| cell | validation cells | λ | m | ladder (rungs) | seeds | λ̂ at nβ = 1000 | error | corrected λ̂ ± se "
        "| error | m̂ | rungs ≤ 1e5: error, m̂ | model | exact rungs: one temperature | exact rungs: corrected "
        "| exact rungs: m̂ "
        "| cost × | max R-hat | warnings |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table:
        lines.append(
            f"| {r['cell']} | {r['validation_cells']} | {r['lambda_text']} | {r['m']} | {r['ladder']} | "
            f"{r['seeds']} | {num(r['single'])} | {_pct(r['single_error'])} | "
            f"{num(r['corrected'])} ± {num(r['corrected_se'], 2)} | {_pct(r['corrected_error'])} | "
            f"{r['m_hat'] or 'n/a'} | "
            + (f"{_pct(r['corrected_short_error'])}, {r['m_hat_short']}" if r.get("m_hat_short") else "")
            + f" | {r['model'] or 'n/a'} | {_pct(r['reference_single_error'])} | "
            f"{_pct(r['reference_corrected_error'])} | {r['reference_m_hat'] or 'n/a'} | "
            f"{num(r['cost_ratio'], 2)} | {num(r.get('max_rhat'), 4)} | {r['warnings']} |"
        )
    done = {r["cell"] for r in table}
    pending = [c.name for c in cells() if c.name not in done]
    lines += [""]
    if pending:
        lines += [f"Cells not yet run (the study resumes where it stopped): {', '.join(pending)}.", ""]
    lines += [
        "Not run here, and why: tanh/H1 (m = 2) needs n ≥ 10⁷ rows for a ladder to 10⁵, and its full-data "
        "MALA step is O(n); dln/1e6 (m = 5) costs about 20 min per job on this CPU, ×5 rungs × seeds; the "
        "turing cells (m = 2, 2, 4) have n = 10⁴, so a ladder below n/100 would stop at nβ = 100; rrr/1e3 "
        "(m = 2) needs n = 10⁶ rows of 55 numbers per rung and was left for time. For λ ≥ 25 (rrr/1e2, "
        "rrr/1e3, dln/1e3) the log term (m − 1)/log t is under 0.6% of λ at nβ = 1000: their single-"
        "temperature bias is the power-law part, which the ladder also removes.",
        "",
        f"Regenerate: `{command} --report-only`",
        "",
    ]
    atomic_write_text(out / "README.md", "\n".join(lines))


def validation_section(cells_frame: Any, ladder_csv: Path) -> list[str]:
    """Markdown for the validation report: for each of its cells that a ladder stands for, the
    report's own one-temperature λ̂ beside the ladder's corrected λ̂ and m̂ (nothing without the
    study's ``ladder.csv``)."""
    if not ladder_csv.exists() or cells_frame.empty:
        return []
    import pandas as pd

    from rlct.validation.report import markdown_table

    ladder = pd.read_csv(ladder_csv)
    by_cell = {name: row for _, row in ladder.iterrows() for name in str(row.get("validation_cells", "")).split()}
    table, single_errors, corrected_errors = [], [], []
    for _, cell in cells_frame.iterrows():
        name = f"{cell['case']}/{cell['scale']}"
        row = by_cell.get(name)
        if row is None:
            continue
        lam = float(cell["lambda_exact_float"])
        single_error = (float(cell["lambda_hat"]) - lam) / lam
        corrected = None if pd.isna(row.get("corrected")) else float(row["corrected"])
        corrected_error = None if corrected is None else (corrected - lam) / lam
        single_errors.append(abs(single_error))
        if corrected_error is not None:
            corrected_errors.append(abs(corrected_error))
        reference = row.get("reference_corrected_error")
        table.append({
            "cell": name, "λ (m)": f"{cell['lambda_exact']} (m = {cell['multiplicity']})",
            "λ̂, one temperature": f"{float(cell['lambda_hat']):.4g}", "error": _pct(single_error),
            "λ̂, ladder-corrected": "n/a" if corrected is None else f"{corrected:.4g}",
            "error (corrected)": _pct(corrected_error),
            "m̂": "n/a" if pd.isna(row.get("m_hat")) else str(row["m_hat"]),
            "exact rungs, corrected": "n/a" if pd.isna(reference) else _pct(float(reference)),
            "ladder": f"{row['cell']}, {row['ladder']}",
        })
    if not table:
        return []
    frame = pd.DataFrame(table)
    if corrected_errors:
        worst = max(corrected_errors)
        verdict = (f"**{'brings' if worst < 0.15 else 'does not bring'} the maximum error under 15%** on "
                   f"the {len(corrected_errors)} cells it covers: worst {100 * worst:.1f}% corrected, against "
                   f"{100 * max(single_errors):.1f}% at one temperature on the same cells")
    else:
        verdict = "has no finished sampler ladder yet"
    return [
        "## One temperature against a ladder of nβ",
        "",
        f"The ladder correction (`python -m rlct.validation.ladder_study`, report in "
        f"[../{ladder_csv.parent.name}](../{ladder_csv.parent.name}/README.md)) {verdict}. The corrected λ̂ "
        "fits the sampler's λ_t on a ladder of nβ (the poly cells on the population loss, n = ∞; the others "
        "with n raised so that nβ ≤ n/100), so its data differ from this report's; m̂ is the m of the fitted "
        "form; 'exact rungs' is the same fit on the exact targets (no sampler): the correction's own error.",
        "",
        markdown_table(frame),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlct.validation.ladder_study")
    parser.add_argument("--out", default="reports/ladder")
    parser.add_argument("--cells", default=",".join(c.name for c in cells()))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--nbeta-csv", default="reports/nbeta-dln/nbeta.csv")
    parser.add_argument("--report-only", action="store_true",
                        help="write the report from the stored records without running anything")
    args = parser.parse_args(argv)
    known = {c.name: c for c in cells()}
    chosen = [c for c in args.cells.split(",") if c]
    unknown = [c for c in chosen if c not in known]
    if unknown:
        print(f"rlct: error: --cells: unknown cell {unknown[0]!r}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    if args.seeds < 1:
        print(f"rlct: error: --seeds: expected a positive integer, got {args.seeds}", file=sys.stderr)
        return 2
    out = Path(args.out)
    results = out / "results"
    results.mkdir(parents=True, exist_ok=True)
    command = f"python -m rlct.validation.ladder_study --out {out}"
    torch.set_num_threads(1)
    for seed in [] if args.report_only else range(args.seeds):
        for name in chosen:
            cell = known[name]
            jobs = [(f"{name}-exact.json", lambda c=cell: run_exact(c))]
            for k in range(len(cell.ladder)):
                jobs.append((f"{name}-seed{seed}-rung{k}-estimate.json",
                             lambda c=cell, s=seed, r=k: run_rung(c, s, r, "estimate")))
                if cell.gibbs:
                    jobs.append((f"{name}-seed{seed}-rung{k}-gibbs.json",
                                 lambda c=cell, s=seed, r=k: run_rung(c, s, r, "gibbs")))
            run_missing(results, jobs, "ladder")
            write_report(out, load_records(results), Path(args.nbeta_csv), command)  # after every cell
    write_report(out, load_records(results), Path(args.nbeta_csv), command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
