"""The course's figures: colours, style and readability rules, and the plots lessons share."""
