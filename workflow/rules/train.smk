rule sft:
    input:
        model=base_model,
        data=f"{OUT}/data/sft.jsonl",
    output:
        model=directory(f"{OUT}/models/{{size}}/sft"),
        metrics=f"{OUT}/models/{{size}}/sft_metrics.jsonl",
    log:
        f"{OUT}/logs/sft/{{size}}.log",
    benchmark:
        f"{OUT}/benchmarks/sft/{{size}}.tsv"
    conda:
        TRAIN_ENV
    threads: SFT_THREADS
    resources:
        **job_resources("sft"),
    params:
        launch=launcher("sft"),
        spec=as_json(config["sft"]),
        seed=config.get("data_seed", 0),
        work=f"{OUT}/models/{{size}}/sft_work",
        identity=lambda w: as_json(
            {
                "exp": EXP,
                "size": w.size,
                "method": "sft",
                "seed": config.get("data_seed", 0),
            }
        ),
    shell:
        "{params.launch} -m rlvr_repro.cli sft --model {input.model} --data {input.data} --out {output.model}"
        " --work-dir {params.work} --metrics {output.metrics} --spec {params.spec:q} --identity {params.identity:q}"
        " --seed {params.seed} --threads {threads} > {log} 2>&1"


rule rl:
    input:
        model=f"{OUT}/models/{{size}}/sft",
        data=f"{OUT}/data/rl.jsonl",
    output:
        models=seed_dirs("model"),
        metrics=seed_files("metrics.jsonl"),
    log:
        f"{OUT}/logs/rl/{{size}}_{{method}}.log",
    benchmark:
        f"{OUT}/benchmarks/rl/{{size}}_{{method}}.tsv"
    wildcard_constraints:
        method="|".join(RL_METHODS) or "^$",
    conda:
        TRAIN_ENV
    threads: THREADS
    resources:
        **job_resources("train", runs=len(SEEDS)),
    params:
        launch=launcher("train"),
        spec=lambda w: as_json(cfg.rl_spec(config, w.method)),
        runs=train_run_args,
        identity=lambda w: as_json({"exp": EXP, "size": w.size, "method": w.method}),
    shell:
        "{params.launch} -m rlvr_repro.cli rl --model {input.model} --data {input.data} {params.runs}"
        " --spec {params.spec:q} --identity {params.identity:q} --threads {threads} > {log} 2>&1"


rule sft_continue:
    input:
        model=f"{OUT}/models/{{size}}/sft",
        data=lambda w: f"{OUT}/data/{cfg.sft_continue_spec(config, w.method)['data']}.jsonl",
    output:
        models=seed_dirs("model"),
        metrics=seed_files("metrics.jsonl"),
    log:
        f"{OUT}/logs/sft_continue/{{size}}_{{method}}.log",
    benchmark:
        f"{OUT}/benchmarks/sft_continue/{{size}}_{{method}}.tsv"
    wildcard_constraints:
        method="|".join(SFT_METHODS) or "^$",
    conda:
        TRAIN_ENV
    threads: THREADS
    resources:
        **job_resources("sft", runs=len(SEEDS)),
    params:
        launch=launcher("sft"),
        spec=lambda w: as_json(cfg.sft_continue_spec(config, w.method)),
        runs=train_run_args,
        identity=lambda w: as_json({"exp": EXP, "size": w.size, "method": w.method}),
    shell:
        "{params.launch} -m rlvr_repro.cli sft --model {input.model} --data {input.data} {params.runs}"
        " --spec {params.spec:q} --identity {params.identity:q} --threads {threads} > {log} 2>&1"
