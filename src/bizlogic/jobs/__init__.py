"""Analysis jobs: lifecycle in the database, execution in-process (embedded) or by workers."""
