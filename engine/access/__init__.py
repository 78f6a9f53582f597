"""Who may do what: users, sign-in, sessions, API tokens, the permission decisions (scopes and field rules), per-user preferences."""
