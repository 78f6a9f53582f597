"""The portal: the screens a customer's, supplier's or partner's contact works in (/portal). The same
record service and the same scope clause as the back office, behind a deliberately smaller surface:
their party's records, what the workflow lets their role do, and placing a new record. Built over
the web layer's screen plumbing (engine.web.base); the back office never imports it."""
