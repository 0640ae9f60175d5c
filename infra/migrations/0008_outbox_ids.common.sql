-- The outbox names the events still to publish; their bodies are in the log. The writer
-- publishes the events it has just committed from memory, and whatever a crash left here
-- is read back from core_events, which holds the same canonical bytes.
ALTER TABLE core_event_outbox DROP COLUMN IF EXISTS body;
