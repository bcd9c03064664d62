-- The merged feature tree, one row per leaf.
CREATE OR REPLACE VIEW feature_tree AS
SELECT * FROM read_parquet('{data_dir}/feature_tree.parquet');

-- Size of the merged tree per top-level category.
CREATE OR REPLACE VIEW feature_tree_by_category AS
SELECT category, count(*) AS leaves, count(DISTINCT path) AS branches
FROM feature_tree GROUP BY category ORDER BY category;
