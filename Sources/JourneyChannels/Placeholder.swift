enum JourneyChannelsPlaceholder {}
