# rlvr-repro: regenerate every table and figure from one command, run from the repository root
# (the rules, schemas, profiles and report pages live under workflow/; config paths are relative to the root):
#   snakemake --cores all                                   default CPU experiment
#   snakemake --cores all --configfile config/experiments/smoke.yaml


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/eval.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
