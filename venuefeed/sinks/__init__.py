"""Where events go besides `engine.events()`: each sink is one consumer."""
