"""Customer webhooks: registrations, a durable outbox over the event log, signed deliveries with retries."""
