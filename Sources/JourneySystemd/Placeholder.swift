enum JourneySystemdPlaceholder {}
