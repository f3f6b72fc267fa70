"""Incident summaries: the dossier a summary is built from, the Summary it yields, the offline
summariser, and the rules every summary obeys (token budget, grounding, redaction).

The LLM adapter (`bot.adapters.openai_summariser`) is the only part that talks to a model.
"""

from bot.summary.dossier import IncidentDossier
from bot.summary.summary import Summary, SuspectedCause

__all__ = ["IncidentDossier", "Summary", "SuspectedCause"]
