main :: IO ()
main = print undefined_name
