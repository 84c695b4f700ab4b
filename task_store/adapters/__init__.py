"""One adapter per MedAgentGym dataset: record -> `IndexedTask`."""

from __future__ import annotations

from task_store.adapters.base import Adapter, DataSpec
from task_store.adapters.code import BioCoder, BioDSBench
from task_store.adapters.ehrcon import EHRCon
from task_store.adapters.ehrsql import EICU, MIMICIII, TREQS, EHRSeqSQL
from task_store.adapters.medagentbench import MedAgentBench
from task_store.adapters.medcalc import MedCalcBench
from task_store.adapters.npowerai import NPowerAI
from task_store.adapters.pack import PackBio, PackCalc, PackEHR, PackFhir, PackPower
from task_store.adapters.pack_predict import PackPredict
from task_store.adapters.prediction import EHRSHOT, MIMICExtract

ADAPTERS: dict[str, Adapter] = {
    adapter.name: adapter
    for adapter in (
        MedCalcBench(), NPowerAI(), MIMICIII(), EICU(), TREQS(), EHRSeqSQL(), EHRCon(),
        BioCoder(), BioDSBench(), MedAgentBench(), EHRSHOT(), MIMICExtract(), PackEHR(), PackCalc(), PackPower(),
        PackPredict(), PackFhir(), PackBio(),
    )
}

__all__ = ["ADAPTERS", "Adapter", "DataSpec"]
