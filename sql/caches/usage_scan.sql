SELECT {columns} FROM usage
