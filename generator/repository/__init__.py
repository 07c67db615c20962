"""The content repository: policy, items, authorisations, git history, governance, entries."""
