"""Schedules: settings that change over time, keyframed in frames, seconds or beats, with
expressions over time and the music (see timeline.Timeline)."""
