"""CITI (Hao et al., AAAI 2025) and its comparison with base / LoRA / full fine-tuning: `config` (knobs),
`method` (importance -> plan -> three stages), `experiment` (the comparison), `metrics` (retention of general
ability), `importance` (gradient importance per component)."""

from tooltune.methods.citi.config import CITISettings, CompareSettings
from tooltune.methods.citi.experiment import METHODS, compare_methods
from tooltune.methods.citi.method import CITIPlan, CITIResult, plan_citi, train_citi

__all__ = ["METHODS", "CITIPlan", "CITIResult", "CITISettings", "CompareSettings", "compare_methods", "plan_citi",
           "train_citi"]
