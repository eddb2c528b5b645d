"""The review web page (`mkd review serve`): list items, accept, correct or reject each one."""
