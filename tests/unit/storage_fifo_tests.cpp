// FIFO queues and fair queues in the engine: written next.
