"""The organizations API: create and list them, manage members, read their audit trail."""
