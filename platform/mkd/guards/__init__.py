"""Safety guards carried from teacher to student: one chain for labeling, serving and eval.

from mkd.guards import GuardChain
chain = GuardChain(cfg.guards, pack=cfg.pack, path="serving")
decision = chain.check_input(query)          # allow | redact | block, with a reason code
verdict = chain.check_output(task, decision.text, answer)
empty = chain.safe_empty(task)               # the task's empty answer
"""

from mkd.guards.chain import GuardChain, empty_from_schema
from mkd.guards.decision import Action, Decision, Finding

__all__ = ["Action", "Decision", "Finding", "GuardChain", "empty_from_schema"]
