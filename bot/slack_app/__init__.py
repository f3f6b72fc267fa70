"""The Slack edge: the bolt app, `/firebreak` commands, button actions and Block Kit views."""
