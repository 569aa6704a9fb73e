# The analysis rules are cheap: they run where Snakemake runs, never as cluster (GPU) jobs.
localrules:
    aggregate,
    tables,
    figures,
    report,


rule aggregate:
    input:
        metrics=metrics_files(),
        evals=eval_files("eval"),
        problems=eval_files("problems"),
    output:
        curves=f"{OUT}/tables/curves.csv",
        evals=f"{OUT}/tables/eval.csv",
        problems=f"{OUT}/tables/problems.csv",
    log:
        f"{OUT}/logs/aggregate.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        out_dir=lambda w, output: os.path.dirname(output.curves),
    shell:
        "python -m rlvr_repro.cli aggregate --metrics {input.metrics} --eval {input.evals} --problems {input.problems}"
        " --out-dir {params.out_dir} > {log} 2>&1"


rule tables:
    input:
        evals=rules.aggregate.output.evals,
        problems=rules.aggregate.output.problems,
        curves=rules.aggregate.output.curves,
    output:
        report(
            f"{OUT}/tables/method_size.md",
            caption="../../paper/captions/tables.rst",
            category="Tables",
            subcategory="Method x size",
        ),
        f"{OUT}/tables/tables.json",
        head_to_head=report(
            f"{OUT}/tables/head_to_head.csv",
            caption="../report/head_to_head.rst",
            category="Tables",
            subcategory="Head to head",
        ),
    log:
        f"{OUT}/logs/tables.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        out_dir=lambda w, output: os.path.dirname(output[0]),
    shell:
        "python -m rlvr_repro.cli tables --eval {input.evals} --problems {input.problems} --curves {input.curves}"
        " --out-dir {params.out_dir} > {log} 2>&1"


rule figures:
    input:
        evals=rules.aggregate.output.evals,
        problems=rules.aggregate.output.problems,
        curves=rules.aggregate.output.curves,
        provenance=f"{OUT}/provenance.json",
        claims="paper/claims.yaml",
    output:
        # PNG copies as report/<group>/<name>.png: group `all` (every method) or a paper of claims.yaml
        figures=report(
            directory(f"{OUT}/figures/report"),
            patterns=["{group}/{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
            subcategory="{group}",
            labels={"methods": "{group}", "figure": "{name}"},
        ),
        done=touch(f"{OUT}/figures/done"),
    log:
        f"{OUT}/logs/figures.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        out_dir=lambda w, output: os.path.dirname(output.done),
        # [[method, label], ...] in config order: it orders, labels and styles the methods
        labels=json.dumps(list(cfg.method_labels(config).items())),
    shell:
        "python -m rlvr_repro.cli figures --curves {input.curves} --eval {input.evals} --problems {input.problems}"
        " --provenance {input.provenance} --claims {input.claims} --labels {params.labels:q} --out-dir {params.out_dir}"
        " --report-dir {output.figures} > {log} 2>&1"


rule report:
    input:
        claims="paper/claims.yaml",
        template="paper/report.md.tmpl",
        tables=rules.tables.output,
        figures=rules.figures.output.done,
        provenance=f"{OUT}/provenance.json",
        task_properties=expand(
            f"{OUT}/tables/task_properties_{{size}}.json", size=SIZES
        ),
    output:
        html=report(f"{OUT}/report/report.html", category="Report"),
        claims=report(
            f"{OUT}/report/claims.csv",
            caption="../report/claims.rst",
            category="Report",
        ),
    log:
        f"{OUT}/logs/report.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        tables_dir=lambda w, input: os.path.dirname(input.tables[0]),
        figures_dir=lambda w, input: os.path.dirname(input.figures),
        # what this experiment trains and evaluates: a claim missing from its data is then an error
        experiment=as_json(
            {
                "name": EXP,
                "source": "hub" if HUB_DATA else "synthetic",
                "splits": BENCHMARKS,
                "runs": [list(r) for r in RUNS]
                + [[size, "sft", seed] for size in SIZES for seed in SEEDS],
            }
        ),
        # [[method, label], ...]: the report names methods by their configured `label:`
        labels=json.dumps(list(cfg.method_labels(config).items())),
    shell:
        "python -m rlvr_repro.cli report --claims {input.claims} --tables-dir {params.tables_dir} --figures-dir {params.figures_dir}"
        " --provenance {input.provenance} --task-properties {input.task_properties}"
        " --experiment {params.experiment:q} --labels {params.labels:q}"
        " --template {input.template} --out {output.html} > {log} 2>&1"
