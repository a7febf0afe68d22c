"""PeerPost: newsletter, story and event-registration service for peer-support networks."""
