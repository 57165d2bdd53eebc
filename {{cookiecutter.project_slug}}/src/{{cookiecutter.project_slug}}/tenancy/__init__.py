"""Organizations (tenants), their members and invitations, and the rows they own."""
