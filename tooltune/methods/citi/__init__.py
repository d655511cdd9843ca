"""CITI (Hao et al., AAAI 2025) and its comparison with base / LoRA / full fine-tuning: `config` (knobs, composed
from the trainer's and the adapters'), `method` (importance -> plan -> three stages), `data` (general rows and
their routing labels), `experiment` (the comparison), `metrics` (retention of general ability), `importance`
(gradient importance per component)."""

from tooltune.methods.citi.config import CITIConfig, CompareSettings, MethodTraining
from tooltune.methods.citi.experiment import METHODS, Comparison, compare_methods
from tooltune.methods.citi.method import CITIPlan, CITIResult, plan_citi, train_citi

__all__ = ["METHODS", "CITIConfig", "CITIPlan", "CITIResult", "Comparison", "CompareSettings", "MethodTraining",
           "compare_methods", "plan_citi", "train_citi"]
