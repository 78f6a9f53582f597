"""Moving records through their workflows: the rules (who may fire what, guards, inputs, effects), transitions, reviews, deadlines and escalations."""
