"""Time travel: the views as they stood at a moment, folded afresh in memory.

The state at T is the state after every event stamped at or before T. The live views are not
touched; the answer is built in a private in-memory database that the ordinary queries then read.
"""

from __future__ import annotations

from datetime import datetime

from jobledger.projections.database import ViewsDatabase
from jobledger.projections.runner import Projector, fold_view
from jobledger.projections.views import VIEWS


def views_as_of(projector: Projector, moment: datetime) -> ViewsDatabase:
    """A views database holding what every view showed at `moment`."""
    events = [(position, event) for position, event in projector.events() if event.timestamp <= moment]
    db = ViewsDatabase(":memory:", store_identity="as-of")
    for view in VIEWS.values():
        db.create_table(view, view.name)
        db.write(view, view.name, dict(fold_view(view, events)))
    return db
