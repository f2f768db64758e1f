"""A marketplace's four-table dump, shaped like the Brazilian Olist export (its column
names, 32-hex ids, Portuguese categories with a translation table, freight per item), and
the profiles that onboard it: one per file shape."""

from pathlib import Path

C1, C2, C3 = (
    "06b8999e2fba1a1fbc88172c00ba8bc7",
    "18955e83d337fd6b2def6b18a428ac77",
    "4e7b3e00288586ebd08712fdd0374a03",
)
O1, O2, O3, O4 = (
    "e481f51cbdc54678b7cc49136f2d6af7",
    "53cdb2fc8bc7dce0b6741e2150273451",
    "47770eb9100c2d0c44946d9cf07ec65d",
    "949d5b44dbf5de918fe9c16f97b45f8a",
)
P1, P2, P3 = (
    "87285b34884572647811a353c7ac498a",
    "595fac2a385ac33a80bd5114aec74eb8",
    "aa4383b373c6aca5d8797843e5594415",
)

CUSTOMERS = f"""\
"customer_id","customer_unique_id","customer_zip_code_prefix","customer_city","customer_state"
"{C1}","861eff4711a542e4b93843c6dd7febb0","14409","franca","SP"
"{C2}","290c77bc529b7ac935b93aa66c333dc3","09790","sao bernardo do campo","SP"
"{C3}","060e732b5b29e8181a18229c7b0b2b5e","01151","sao paulo","SP"
"""

ORDERS = f"""\
order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,\
order_delivered_carrier_date,order_delivered_customer_date,order_estimated_delivery_date
{O1},{C1},delivered,2017-10-02 10:56:33,2017-10-02 11:07:15,2017-10-04 19:55:00,\
2017-10-10 21:25:13,2017-10-18 00:00:00
{O2},{C2},invoiced,2018-07-24 20:41:37,2018-07-26 03:24:27,,,2018-08-13 00:00:00
{O3},{C3},canceled,2018-08-08 08:38:49,2018-08-08 08:55:23,,,2018-09-04 00:00:00
{O4},{C1},shipped,2017-11-18 19:28:06,2017-11-18 19:45:59,2017-11-22 13:39:59,,\
2017-12-15 00:00:00
"""

ORDER_ITEMS = f"""\
order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value
{O1},1,{P1},3504c0cb71d7fa48d967e0e4c94d59d9,2017-10-06 11:07:15,29.99,8.72
{O2},1,{P2},289cdb325fb7e7f891c38608bf9e0962,2018-07-30 03:24:27,118.70,22.76
{O3},1,{P3},4869f7a5dfa277a7dca6462dcf3b52b2,2018-08-13 08:55:23,159.90,19.22
{O4},1,{P1},3504c0cb71d7fa48d967e0e4c94d59d9,2017-11-23 19:45:59,29.99,7.78
{O4},2,{P2},289cdb325fb7e7f891c38608bf9e0962,2017-11-23 19:45:59,118.70,7.78
"""

PRODUCTS = f"""\
product_id,product_category_name,product_name_lenght,product_description_lenght,\
product_photos_qty,product_weight_g,product_length_cm,product_height_cm,product_width_cm
{P1},utilidades_domesticas,40,268,4,500,19,8,13
{P2},perfumaria,44,400,1,1000,30,20,20
{P3},pc_gamer,46,250,1,154,18,9,15
"""

TRANSLATION = """\
product_category_name,product_category_name_english
beleza_saude,health_beauty
perfumaria,perfumery
utilidades_domesticas,housewares
"""

FILES = {
    "olist_customers_dataset.csv": CUSTOMERS,
    "olist_orders_dataset.csv": ORDERS,
    "olist_order_items_dataset.csv": ORDER_ITEMS,
    "olist_products_dataset.csv": PRODUCTS,
    "product_category_name_translation.csv": TRANSLATION,
}

STATUS = """\
      status:
        map:
          column: order_status
          values: {canceled: cancelled, invoiced: paid, approved: authorized, created: pending,
                   unavailable: cancelled}
"""

PROFILES = {
    "olist_customers": """\
files: ["olist_customers_dataset*.csv"]
entities:
  customers:
    fields:
      customer_id: customer_id
      country: {constant: BR}
""",
    "olist_orders": f"""\
files: ["olist_orders_dataset*.csv"]
entities:
  orders:
    fields:
      order_id: order_id
      customer_id: customer_id
{STATUS}      ordered_at: order_purchase_timestamp
      currency: {{constant: BRL}}
""",
    "olist_items": """\
files: ["olist_order_items_dataset*.csv"]
entities:
  line_items:
    fields:
      line_item_id: {concat: [order_id, {constant: "-"}, order_item_id]}
      order_id: order_id
      product_id: product_id
      quantity: {constant: 1}
      unit_price: price
      line_total: price
    attributes: [seller_id, freight_value]
""",
    "olist_products": """\
files: ["olist_products_dataset*.csv"]
lookups:
  category_en:
    column: product_category_name
    table: {batch_file: "product_category_name_translation*.csv"}
    key: product_category_name
    value: product_category_name_english
    default: product_category_name
entities:
  products:
    fields:
      product_id: product_id
      name: {concat: [category_en, {constant: " "}, {extract: {value: product_id,
                                                            pattern: "^(.{8})"}}]}
      category: category_en
      currency: {constant: BRL}
""",
}


def write_profiles(folder: Path, *names: str, **replaced: str) -> None:
    """The named profiles (all by default) as YAML files; `replaced` gives other texts."""
    folder.mkdir(exist_ok=True)
    for name in names or PROFILES:
        (folder / f"{name}.yaml").write_text(replaced.get(name, PROFILES[name]))
