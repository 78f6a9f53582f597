"""Single-use links by e-mail: an invitation for a party's new contact to set a first password, and a password reset
for anyone who forgot theirs."""
