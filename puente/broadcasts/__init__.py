"""Broadcasts: audiences, deliveries, the sender, reminders, RSVP; the job queue's tasks."""
