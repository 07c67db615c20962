"""The relying party's side: verify a file, audit and monitor a log, offline proofs.

Reads a published site from a folder or an http(s) URL (:mod:`.source`), finds
entries through the static lookup index (:mod:`.lookup`), proves a file
(:mod:`.verify`, answering with :mod:`.outcome`) and audits a whole log with
persistent state (:mod:`.audit`, :mod:`.state`). It trusts only the log key it is
given, shares the governance rules with the generator
(:class:`generator.repository.governance.Ledger`), and never imports the site or
git code.
"""
