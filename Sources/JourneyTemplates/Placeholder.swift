// The Liquid template engine (placeholder until the module lands).
enum JourneyTemplatesPlaceholder {}
