# Rules that read the hub run where the workflow runs (the cluster's login node), not in a job.
localrules:
    data,
    build_model,
    fetch_model,
    provenance,


rule data:
    output:
        expand(f"{OUT}/data/{{split}}.jsonl", split=DATA_SPLITS),
    log:
        f"{OUT}/logs/data.log",
    conda:
        "../../envs/train.yaml"
    params:
        out_dir=lambda w, output: os.path.dirname(output[0]),
        spec=as_json(config["data"]),
        seed=config.get("data_seed", 0),
    shell:
        "python -m rlvr_repro.cli data --spec {params.spec:q} --seed {params.seed} --out-dir {params.out_dir} > {log} 2>&1"


rule build_model:
    output:
        directory(f"{OUT}/models/{{size}}/init"),
    log:
        f"{OUT}/logs/build_model/{{size}}.log",
    wildcard_constraints:
        size="|".join(s for s in ALL_SIZES if not model_source(s)) or "^$",
    conda:
        "../../envs/train.yaml"
    params:
        seed=config.get("data_seed", 0),
    shell:
        "python -m rlvr_repro.cli build-model --size {wildcards.size} --out {output} --seed {params.seed} > {log} 2>&1"


rule fetch_model:
    output:
        directory(f"{OUT}/models/{{size}}/init"),
    log:
        f"{OUT}/logs/fetch_model/{{size}}.log",
    wildcard_constraints:
        size="|".join(s for s in ALL_SIZES if model_source(s)) or "^$",
    conda:
        "../../envs/train.yaml"
    params:
        source=model_source,
        template=config["data"].get("template", "plain"),
    shell:
        "python -m rlvr_repro.cli build-model --size {wildcards.size} --source {params.source:q}"
        " --template {params.template} --out {output} > {log} 2>&1"


rule provenance:
    output:
        f"{OUT}/provenance.json",
    log:
        f"{OUT}/logs/provenance.log",
    conda:
        TRAIN_ENV  # the versions recorded are those of the environment that trains
    params:
        config=as_json(config),
    shell:
        "python -m rlvr_repro.cli provenance --config {params.config:q} --out {output} > {log} 2>&1"
