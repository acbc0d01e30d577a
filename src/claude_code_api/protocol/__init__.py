"""Wire models of the protocols the server speaks. Imports only pydantic."""
