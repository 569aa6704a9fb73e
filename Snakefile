# rlvr-repro: regenerate every table and figure from one command, run from the repository root
# (Snakemake finds this file as workflow/Snakefile; config paths are relative to the root):
#   snakemake --cores all                                   default CPU experiment
#   snakemake --cores all --configfile config/experiments/smoke.yaml


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/eval.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
