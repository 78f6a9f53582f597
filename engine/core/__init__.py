"""The ground floor: errors that teach, who acts (Actor), field values, messages in the reader's language."""
