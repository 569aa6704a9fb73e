rule evaluate:
    input:
        **eval_splits(),
        models=models_to_eval,
    output:
        metrics=expand(
            f"{OUT}/eval/{{{{size}}}}/{{{{method}}}}/seed{{seed}}/eval.csv", seed=SEEDS
        ),
        problems=expand(
            f"{OUT}/eval/{{{{size}}}}/{{{{method}}}}/seed{{seed}}/problems.csv",
            seed=SEEDS,
        ),
        samples=expand(  # written by `rlvr eval` beside each eval.csv
            f"{OUT}/eval/{{{{size}}}}/{{{{method}}}}/seed{{seed}}/samples.jsonl",
            seed=SEEDS,
        ),
    log:
        f"{OUT}/logs/eval/{{size}}_{{method}}.log",
    benchmark:
        f"{OUT}/benchmarks/evaluate/{{size}}_{{method}}.tsv"
    conda:
        engine_env("eval")
    threads: THREADS
    resources:
        **job_resources("eval"),
    params:
        launch=launcher("eval", distributed=False),
        splits=" ".join(f"--split {k}={v}" for k, v in eval_splits().items()),
        spec=lambda w: as_json(cfg.eval_spec(config, w.method)),
        identity=lambda w: as_json({"exp": EXP, "size": w.size, "method": w.method}),
        runs=eval_run_args,
    shell:
        "{params.launch} -m rlvr_repro.cli eval {params.runs} {params.splits}"
        " --spec {params.spec:q} --identity {params.identity:q} --threads {threads} > {log} 2>&1"


rule task_properties:
    input:
        unpack(property_models),
        data=f"{OUT}/data/rl.jsonl",
    output:
        f"{OUT}/tables/task_properties_{{size}}.json",
    log:
        f"{OUT}/logs/task_properties/{{size}}.log",
    benchmark:
        f"{OUT}/benchmarks/task_properties/{{size}}.tsv"
    conda:
        engine_env("task_properties")
    threads: THREADS
    resources:
        **job_resources("eval"),
    params:
        launch=launcher("eval", distributed=False),
        spec=as_json(config["task_properties"]),
        seed=config.get("data_seed", 0),
        models=property_model_args,
    shell:
        "{params.launch} -m rlvr_repro.cli task-properties {params.models} --grpo-metrics {input.grpo_metrics}"
        " --data {input.data} --spec {params.spec:q}"
        " --seed {params.seed} --threads {threads} --out {output} > {log} 2>&1"
