"""History: past rounds and every recorded action, who and when."""

import streamlit as st

from allocator.history import timeline
from allocator.store import rounds_frame
from ui.common import PAGE_ROLES, frame_labels, require_role, session, tr

require_role(*PAGE_ROLES["history"])
st.title(tr("app.page.history"))

with session() as s:
    rounds = rounds_frame(s)
    actions = timeline(s)

st.subheader(tr("app.history.rounds"))
if not len(rounds):
    st.info(tr("app.history.no_rounds"))
else:
    rounds = rounds.assign(state=rounds.state.map(lambda x: tr(f"app.state.{x}")))
    st.dataframe(frame_labels(rounds), hide_index=True, width="stretch", key="rounds_table")

st.subheader(tr("app.history.actions"))
sources = ["all", *sorted(set(actions.source))] if len(actions) else ["all"]
source_labels = {x: tr(f"app.source.{x}") for x in sources}
pick = st.selectbox(tr("app.history.filter"), sources, key="history_source", format_func=source_labels.__getitem__)
shown = actions if pick == "all" else actions[actions.source == pick]
shown = shown.assign(source=shown.source.map(lambda x: tr(f"app.source.{x}")),
                     action=shown.action.map(lambda x: tr(f"app.action.{x}")))
st.dataframe(frame_labels(shown), hide_index=True, width="stretch", key="actions_table")
