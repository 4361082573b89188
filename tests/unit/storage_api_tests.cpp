// Batches, dead-letter queues, move tasks, tags and permissions: written next.
